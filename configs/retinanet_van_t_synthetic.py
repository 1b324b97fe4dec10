# RetinaNet + VAN-B0 on the built-in synthetic COCO-format scenes, from scratch:
# the one-stage detection path, and the detection test-time augmentation
# (tools/test.py --tta), at the scenes' scale. Make the data first:
#   python -m mmfreq.datasets.synthetic_scenes data/synthetic_coco --format coco
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py', 'mmdet::retinanet/retinanet_tta.py',
    './_base_/synthetic_coco.py'
]

model = dict(
    backbone=dict(_base_.van_b2_backbone, _delete_=True, arch='b0', drop_path_rate=0.0,
                  init_cfg=None),
    # the base FPN skips stage 1 (start_level=1): P3-P5 from VAN, P6-P7 extra convs
    neck=dict(in_channels=[32, 64, 160, 256], out_channels=64),
    bbox_head=dict(num_classes=4, in_channels=64, feat_channels=64))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=_base_.scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=_base_.scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# mmdet's RetinaNet TTA (inherited tta_model) at the scenes' scale: 3 sizes x flip
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=s, keep_ratio=True) for s in ((256, 256), (192, 192),
                                                                 (320, 320))],
        [dict(type='RandomFlip', prob=1.0), dict(type='RandomFlip', prob=0.0)],
        [dict(type='LoadAnnotations', with_bbox=True)],
        [dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                               'scale_factor', 'flip', 'flip_direction'))],
    ]),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(metric='bbox')  # boxes only: the base's evaluator also scores masks
test_evaluator = val_evaluator
