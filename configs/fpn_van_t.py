# Semantic-FPN + VAN-B0 (tiny), ADE20K 40k. Reported (VAN paper, mIoU): 38.5.
_base_ = './fpn_van_b.py'
model = dict(
    backbone=dict(arch='b0', init_cfg=dict(checkpoint='pretrained/van_b0_mmfreq.pth')),
    neck=dict(in_channels=[32, 64, 160, 256]))
