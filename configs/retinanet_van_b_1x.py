# RetinaNet + VAN-B2 on COCO, 1x schedule (12 epochs, 8 GPUs x 2 images), AdamW.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
# Registers mmfreq's modules and its safe checkpoint loader, also for the host
# toolboxes' own tools and inferencers (see mmfreq/safe_loading.py).
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                      allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmfreq.VAN',
        arch='b2',
        drop_path_rate=0.1,
        # 2 images per GPU: per-GPU BatchNorm statistics would be noisy, so
        # synchronised, as in the segmentation configs
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        # ImageNet-1k VAN-B2 from mmpretrain's configs/van/metafile.yml (van-base_3rdparty_in1k,
        # the official weights converted); read strictly at init_weights, cached in $TORCH_HOME.
        init_cfg=dict(type='Pretrained', checkpoint='https://download.openmmlab.com/mmclassification/v0/van/van-base_8xb128_in1k_20220501-6a4cc31b.pth')),  # noqa: E501
    # the base FPN skips stage 1 (start_level=1): P3-P5 from VAN, P6-P7 extra convs
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.),
                                    'layer_scale': dict(decay_mult=0.)}))
