# Semantic-FPN + VAN-B2 (base) on ADE20K, 512x512, 40k iterations: the recipe of
# the VAN paper's segmentation code (8 GPUs x 4 images, AdamW lr 2e-4, wd 1e-4,
# poly decay with power 0.9).
# Reported in the VAN paper (Semantic-FPN 40k, mIoU): 46.7.
_base_ = ['./_base_/fpn_ade20k_40k.py', './_base_/van.py']

model = dict(
    backbone=dict(_base_.van_b2_backbone, _delete_=True, drop_path_rate=0.2),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=40000),
]
