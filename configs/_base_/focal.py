# Focal Transformer backbones and the detection schedules of the Focal configs,
# as variables (a config cannot inherit two `model` bases): `_base_.focal_t_backbone`.

# The official Focal-T yaml has EXPAND_SIZES [3, 3, 3, 3]; its code drops a
# stage's ring only where the map is no larger than one window (stage 4 at 224,
# hence no ring weights there in the ImageNet checkpoint). Built for dense inputs
# the ring stays; each config states the parameter count this gives against the
# published one, and docs/model_zoo.md compares the FLOPs.
focal_t_backbone = dict(
    type='mmfreq.FocalTransformer',
    arch='tiny',
    drop_path_rate=0.2,
    expand_sizes=(3, 3, 3, 3),
    # ImageNet-1k Focal-T: microsoft/Focal-Transformer README, focal-tiny-is224-ws7.pth.
    init_cfg=dict(type='Pretrained', checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-tiny-is224-ws7.pth'))  # noqa: E501
# What Focal-S and Focal-B change in focal_t_backbone (drop path as in Focal's
# ImageNet configs). Activation checkpointing keeps 1333x800 training of the
# 128-channel Focal-B within common GPU memory.
# ImageNet-1k Focal-S: microsoft/Focal-Transformer README, focal-small-is224-ws7.pth.
focal_s_changes = dict(
    arch='small', drop_path_rate=0.3,
    init_cfg=dict(checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-small-is224-ws7.pth'))  # noqa: E501
# ImageNet-1k Focal-B: microsoft/Focal-Transformer README, focal-base-is224-ws7.pth.
focal_b_changes = dict(
    arch='base', drop_path_rate=0.3, with_cp=True,
    init_cfg=dict(checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-base-is224-ws7.pth'))  # noqa: E501

# Swin-Transformer-Object-Detection's schedules (which the Focal README says its
# detection follows): 500 linear warm-up iterations, then steps at epochs 8 and
# 11 (1x, 12 epochs) or 27 and 33 (3x, 36 epochs).
focal_1x_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
focal_3x_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
