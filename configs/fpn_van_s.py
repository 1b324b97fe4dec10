# Semantic-FPN + VAN-B1 (small), ADE20K 40k. Reported (VAN paper, mIoU): 42.9.
_base_ = './fpn_van_b.py'
model = dict(backbone=dict(arch='b1', init_cfg=dict(checkpoint='pretrained/van_b1_mmfreq.pth')))
