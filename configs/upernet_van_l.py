# UperNet + VAN-B3 (large), ADE20K 160k. Reported (VAN paper, ms mIoU): 50.6.
_base_ = './upernet_van_b.py'
model = dict(
    backbone=dict(arch='b3', drop_path_rate=0.3,
                  init_cfg=dict(checkpoint='pretrained/van_b3_mmfreq.pth')))
