# Mask R-CNN + Focal-S on COCO, 3x with multi-scale training.
_base_ = './mask_rcnn_focal_t_3x.py'

model = dict(backbone=_base_.focal_s_changes)
