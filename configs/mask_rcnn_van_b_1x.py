# Mask R-CNN + VAN-B2 on COCO, 1x schedule (12 epochs, 8 GPUs x 2 images),
# with AdamW and no weight decay on norms and layer scales, as is usual for
# attention backbones.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/mmfreq_imports.py',
    './_base_/van.py'
]

model = dict(
    backbone=dict(_delete_=True, **_base_.van_b2_backbone),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(_delete_=True, **_base_.van_detection_optim_wrapper)
