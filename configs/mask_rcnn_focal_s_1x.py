# Mask R-CNN + Focal-S on COCO, 1x. Reported in the Focal paper: 47.4 box / 42.8 mask.
_base_ = './mask_rcnn_focal_t_1x.py'

model = dict(backbone=_base_.focal_s_changes)
