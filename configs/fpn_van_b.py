# Semantic-FPN + VAN-B2 (base) on ADE20K, 512x512, 40k iterations: the recipe of
# the VAN paper's segmentation code (8 GPUs x 4 images, AdamW lr 2e-4, wd 1e-4,
# poly decay with power 0.9).
# Reported in the VAN paper (Semantic-FPN 40k, mIoU): 46.7.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
]
# Registers mmfreq's modules and its safe checkpoint loader, also for the host
# toolboxes' own tools and inferencers (see mmfreq/safe_loading.py).
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                      allow_failed_imports=False)
crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmfreq.VAN',
        arch='b2',
        drop_path_rate=0.2,
        norm_cfg=norm_cfg,
        # ImageNet-1k VAN-B2 from mmpretrain's configs/van/metafile.yml (van-base_3rdparty_in1k,
        # the official weights converted); read strictly at init_weights, cached in $TORCH_HOME.
        init_cfg=dict(type='Pretrained', checkpoint='https://download.openmmlab.com/mmclassification/v0/van/van-base_8xb128_in1k_20220501-6a4cc31b.pth')),  # noqa: E501
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=40000),
]
