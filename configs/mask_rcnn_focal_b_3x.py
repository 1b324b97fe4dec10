# Mask R-CNN + Focal-B on COCO, 3x with multi-scale training.
_base_ = './mask_rcnn_focal_t_3x.py'

model = dict(
    backbone=dict(
        arch='base', drop_path_rate=0.3, with_cp=True,
        init_cfg=dict(checkpoint='pretrained/focal_base_mmfreq.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
