# UperNet + VAN-B2 (base) on ADE20K, 512x512, 160k iterations: the recipe of the
# VAN paper's segmentation code (8 GPUs x 2 images, AdamW lr 6e-5, wd 0.01,
# 1500 linear warm-up iterations, then poly decay with power 1).
# Reported in the VAN paper (UperNet 160k, multi-scale mIoU): 50.1.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
# Registers mmfreq's modules and its safe checkpoint loader, also for the host
# toolboxes' own tools and inferencers (see mmfreq/safe_loading.py).
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                      allow_failed_imports=False)
crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=32)),
    backbone=dict(
        _delete_=True,
        type='mmfreq.VAN',
        arch='b2',
        drop_path_rate=0.1,
        norm_cfg=norm_cfg,
        # ImageNet-1k VAN-B2 from mmpretrain's configs/van/metafile.yml (van-base_3rdparty_in1k,
        # the official weights converted); read strictly at init_weights, cached in $TORCH_HOME.
        init_cfg=dict(type='Pretrained', checkpoint='https://download.openmmlab.com/mmclassification/v0/van/van-base_8xb128_in1k_20220501-6a4cc31b.pth')),  # noqa: E501
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=150),
    auxiliary_head=dict(in_channels=320, num_classes=150))

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
