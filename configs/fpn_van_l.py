# Semantic-FPN + VAN-B3 (large), ADE20K 40k. Reported (VAN paper, mIoU): 48.1.
_base_ = './fpn_van_b.py'
model = dict(
    backbone=dict(arch='b3', drop_path_rate=0.3,
                  init_cfg=dict(checkpoint='pretrained/van_b3_mmfreq.pth')))
