# Mask R-CNN + Focal-B on COCO, 1x, with activation checkpointing.
_base_ = './mask_rcnn_focal_t_1x.py'

model = dict(backbone=_base_.focal_b_changes, neck=dict(in_channels=[128, 256, 512, 1024]))
