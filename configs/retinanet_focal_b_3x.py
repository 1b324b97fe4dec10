# RetinaNet + Focal-B on COCO, 3x, with activation checkpointing.
_base_ = './retinanet_focal_t_3x.py'

model = dict(backbone=_base_.focal_b_changes, neck=dict(in_channels=[256, 512, 1024]))
