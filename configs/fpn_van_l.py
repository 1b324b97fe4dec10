# Semantic-FPN + VAN-B3 (large), ADE20K 40k. Reported (VAN paper, mIoU): 48.1.
_base_ = './fpn_van_b.py'
# ImageNet-1k VAN-B3 from mmpretrain's configs/van/metafile.yml (van-large_3rdparty_in1k,
# the official weights converted); read strictly at init_weights, cached in $TORCH_HOME.
model = dict(
    backbone=dict(arch='b3', drop_path_rate=0.3,
                  init_cfg=dict(checkpoint='https://download.openmmlab.com/mmclassification/v0/van/van-large_8xb128_in1k_20220501-f212ba21.pth')))  # noqa: E501
