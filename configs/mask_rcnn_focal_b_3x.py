# Mask R-CNN + Focal-B on COCO, 3x with multi-scale training and activation checkpointing.
_base_ = './mask_rcnn_focal_t_3x.py'

model = dict(backbone=_base_.focal_b_changes, neck=dict(in_channels=[128, 256, 512, 1024]))
