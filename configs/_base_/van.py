# VAN backbones and the detection optimizer of the VAN configs, as variables
# (a config cannot inherit two `model` bases): `_base_.van_b2_backbone`.

# 2 images per GPU: per-GPU BatchNorm statistics would be noisy, so synchronised.
van_b2_backbone = dict(
    type='mmfreq.VAN',
    arch='b2',
    drop_path_rate=0.1,
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    # ImageNet-1k VAN-B2 from mmpretrain's configs/van/metafile.yml (van-base_3rdparty_in1k,
    # the official weights converted); read strictly at init_weights, cached in $TORCH_HOME.
    init_cfg=dict(type='Pretrained', checkpoint='https://download.openmmlab.com/mmclassification/v0/van/van-base_8xb128_in1k_20220501-6a4cc31b.pth'))  # noqa: E501

# AdamW without weight decay on norms and layer scales, as is usual for
# attention backbones.
van_detection_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.),
                                    'layer_scale': dict(decay_mult=0.)}))
