# RetinaNet + VAN-B2 on COCO, 1x schedule (12 epochs, 8 GPUs x 2 images), AdamW
# without weight decay on norms and layer scales.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/mmfreq_imports.py',
    './_base_/van.py'
]

model = dict(
    backbone=dict(_delete_=True, **_base_.van_b2_backbone),
    # the base FPN skips stage 1 (start_level=1): P3-P5 from VAN, P6-P7 extra convs
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(_delete_=True, **_base_.van_detection_optim_wrapper)
