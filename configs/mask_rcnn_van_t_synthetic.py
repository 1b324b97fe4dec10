# Mask R-CNN + VAN-B0 on the built-in synthetic COCO-format scenes, trained from
# scratch on CPU in a few minutes: the detection path end to end (CocoMetric,
# bbox and segm mAP). Make the data first:
#   python -m mmfreq.datasets.synthetic_scenes data/synthetic_coco --format coco
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', './_base_/synthetic_coco.py']
channels = 64

model = dict(
    backbone=dict(_base_.van_b2_backbone, _delete_=True, arch='b0', drop_path_rate=0.0,
                  init_cfg=None),
    neck=dict(in_channels=[32, 64, 160, 256], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256, num_classes=4),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(in_channels=channels, conv_out_channels=channels, num_classes=4)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=_base_.scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=_base_.scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
