# RetinaNet + Focal-S on COCO, 1x.
_base_ = './retinanet_focal_t_1x.py'

model = dict(backbone=dict(
    arch='small', drop_path_rate=0.3,
    init_cfg=dict(checkpoint='pretrained/focal_small_mmfreq.pth')))
