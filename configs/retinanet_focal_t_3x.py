# RetinaNet + Focal-T on COCO, 3x (36 epochs) with the 1x config's multi-scale
# training (shorter side 480-800, longer at most 1333). Reported in the Focal
# paper: 45.5 box AP.
_base_ = './retinanet_focal_t_1x.py'
max_epochs = 36

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]
