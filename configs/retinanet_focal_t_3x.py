# RetinaNet + Focal-T on COCO, 3x (36 epochs) with the 1x config's multi-scale
# training (shorter side 480-800, longer at most 1333). Reported in the Focal
# paper: 45.5 box AP.
_base_ = './retinanet_focal_t_1x.py'

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = _base_.focal_3x_param_scheduler
