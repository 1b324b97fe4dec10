# UperNet + VAN-B0 (tiny), ADE20K 160k. Reported (VAN paper, ms mIoU): 41.1.
_base_ = './upernet_van_b.py'
model = dict(
    backbone=dict(arch='b0', init_cfg=dict(checkpoint='pretrained/van_b0_mmfreq.pth')),
    decode_head=dict(in_channels=[32, 64, 160, 256]),
    auxiliary_head=dict(in_channels=160))
