# RetinaNet + VAN-B2 on COCO, 1x schedule (12 epochs, 8 GPUs x 2 images), AdamW.
# Initialise from ImageNet weights converted with
#   python tools/model_converters/van2mmfreq.py van_b2.pth pretrained/van_b2_mmfreq.pth
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
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/van_b2_mmfreq.pth')),
    # the base FPN skips stage 1 (start_level=1): P3-P5 from VAN, P6-P7 extra convs
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.),
                                    'layer_scale': dict(decay_mult=0.)}))
