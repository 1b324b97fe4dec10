# Mask R-CNN + Focal-S on COCO, 1x. Reported in the Focal paper: 47.4 box / 42.8 mask.
_base_ = './mask_rcnn_focal_t_1x.py'

model = dict(backbone=dict(
    arch='small', drop_path_rate=0.3,
    init_cfg=dict(checkpoint='pretrained/focal_small_mmfreq.pth')))
