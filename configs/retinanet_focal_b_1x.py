# RetinaNet + Focal-B on COCO, 1x, with activation checkpointing.
_base_ = './retinanet_focal_t_1x.py'

model = dict(
    backbone=dict(
        arch='base', drop_path_rate=0.3, with_cp=True,
        init_cfg=dict(checkpoint='pretrained/focal_base_mmfreq.pth')),
    neck=dict(in_channels=[256, 512, 1024]))
