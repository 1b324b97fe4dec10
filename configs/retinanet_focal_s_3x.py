# RetinaNet + Focal-S on COCO, 3x.
_base_ = './retinanet_focal_t_3x.py'

model = dict(backbone=_base_.focal_s_changes)
