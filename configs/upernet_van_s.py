# UperNet + VAN-B1 (small), ADE20K 160k. Reported (VAN paper, ms mIoU): 44.9.
_base_ = './upernet_van_b.py'
# ImageNet-1k VAN-B1 from mmpretrain's configs/van/metafile.yml (van-small_3rdparty_in1k,
# the official weights converted); read strictly at init_weights, cached in $TORCH_HOME.
model = dict(backbone=dict(arch='b1', init_cfg=dict(checkpoint='https://download.openmmlab.com/mmclassification/v0/van/van-small_8xb128_in1k_20220501-17bc91aa.pth')))  # noqa: E501
