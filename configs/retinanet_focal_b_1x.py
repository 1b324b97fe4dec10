# RetinaNet + Focal-B on COCO, 1x, with activation checkpointing.
_base_ = './retinanet_focal_t_1x.py'

model = dict(backbone=_base_.focal_b_changes, neck=dict(in_channels=[256, 512, 1024]))
