# RetinaNet + Focal-S on COCO, 1x.
_base_ = './retinanet_focal_t_1x.py'

model = dict(backbone=_base_.focal_s_changes)
