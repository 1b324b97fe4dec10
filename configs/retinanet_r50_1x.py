# RetinaNet + ResNet-50 on COCO, mmdet's 1x recipe unchanged: the baseline for
# retinanet_aa_r50_1x.py (same data, schedule and ImageNet initialisation).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
# Registers mmfreq's modules and its safe checkpoint loader, also for the host
# toolboxes' own tools and inferencers (see mmfreq/safe_loading.py).
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                      allow_failed_imports=False)

# tools/test.py --tta: mmdet's RetinaNet TTA (configs/retinanet/retinanet_tta.py
# in mmdet): three scales, each also flipped, boxes merged by NMS.
tta_model = dict(
    type='DetTTAModel',
    tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=scale, keep_ratio=True)
         for scale in ((1333, 800), (666, 400), (2000, 1200))],
        [dict(type='RandomFlip', prob=1.0), dict(type='RandomFlip', prob=0.0)],
        [dict(type='LoadAnnotations', with_bbox=True)],
        [dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                               'scale_factor', 'flip', 'flip_direction'))],
    ]),
]
