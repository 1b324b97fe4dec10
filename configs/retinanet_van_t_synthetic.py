# RetinaNet + VAN-B0 on the built-in synthetic COCO-format scenes, from scratch:
# the one-stage detection path, and the detection test-time augmentation
# (tools/test.py --tta), at the scenes' scale. Make the data first:
#   python -m mmfreq.datasets.synthetic_scenes data/synthetic_coco --format coco
_base_ = './retinanet_van_b_1x.py'
data_root = 'data/synthetic_coco/'
metainfo = dict(classes=('disc', 'square', 'triangle', 'bar'))
scale = (256, 256)  # the scenes are 96-160 px: upscale so objects meet the anchors
max_epochs = 3

model = dict(
    backbone=dict(arch='b0', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[32, 64, 160, 256], out_channels=64),
    bbox_head=dict(num_classes=4, in_channels=64, feat_channels=64))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
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
train_dataloader = dict(
    batch_size=4,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(max_keep_ckpts=2))
