# RetinaNet + Focal-T on COCO, 1x: P3-P7 from stages 2-4, with the Swin/Focal 1x
# detection recipe (Swin-Transformer-Object-Detection's Mask R-CNN 1x config, which
# the Focal README says it follows; that repo has no RetinaNet config): AdamW lr
# 1e-4, wd 0.05, multi-scale training (shorter side 480-800, longer at most 1333),
# 500 warm-up iterations. mmdet's Swin RetinaNet config uses SGD and one scale.
# Reported in the Focal paper: 43.7 box AP. With the expand ring in every stage
# this model has the published parameter count (Focal README: RetinaNet 39M, here
# 39.36M).
_base_ = [
    'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
    # tools/test.py --tta: mmdet's RetinaNet TTA (3 scales x flip, boxes merged by
    # NMS), which mmdet's RetinaNet-R50 configs have and its Swin one lacks
    'mmdet::retinanet/retinanet_tta.py',
    './_base_/mmfreq_imports.py',
    './_base_/focal.py',
]

model = dict(
    backbone=dict(_delete_=True, **_base_.focal_t_backbone,
                  out_indices=(1, 2, 3)))  # only what the FPN uses, so every parameter trains

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'relative_position_bias_table': dict(decay_mult=0.0),
                                    'norm': dict(decay_mult=0.0)}))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize',
         scales=[(1333, s) for s in range(480, 801, 32)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
param_scheduler = _base_.focal_1x_param_scheduler
