# UperNet + VAN-B0 (tiny), ADE20K 160k. Reported (VAN paper, ms mIoU): 41.1.
_base_ = './upernet_van_b.py'
# ImageNet-1k VAN-B0 from mmpretrain's configs/van/metafile.yml (van-tiny_3rdparty_in1k,
# the official weights converted); read strictly at init_weights, cached in $TORCH_HOME.
model = dict(
    backbone=dict(arch='b0', init_cfg=dict(checkpoint='https://download.openmmlab.com/mmclassification/v0/van/van-tiny_8xb128_in1k_20220501-385941af.pth')),  # noqa: E501
    decode_head=dict(in_channels=[32, 64, 160, 256]),
    auxiliary_head=dict(in_channels=160))
