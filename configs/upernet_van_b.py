# UperNet + VAN-B2 (base) on ADE20K, 512x512, 160k iterations: the recipe of the
# VAN paper's segmentation code (8 GPUs x 2 images, AdamW lr 6e-5, wd 0.01,
# 1500 linear warm-up iterations, then poly decay with power 1).
# Reported in the VAN paper (UperNet 160k, multi-scale mIoU): 50.1.
_base_ = ['./_base_/upernet_ade20k_160k.py', './_base_/van.py']

model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=32)),
    backbone=dict(_delete_=True, **_base_.van_b2_backbone),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
    auxiliary_head=dict(in_channels=320))

train_dataloader = dict(batch_size=2)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=160000),
]
