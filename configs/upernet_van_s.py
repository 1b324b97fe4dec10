# UperNet + VAN-B1 (small), ADE20K 160k. Reported (VAN paper, ms mIoU): 44.9.
_base_ = './upernet_van_b.py'
model = dict(backbone=dict(arch='b1', init_cfg=dict(checkpoint='pretrained/van_b1_mmfreq.pth')))
