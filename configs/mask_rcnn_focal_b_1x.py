# Mask R-CNN + Focal-B on COCO, 1x. Activation checkpointing keeps 1333x800
# training of the 128-channel model within common GPU memory.
_base_ = './mask_rcnn_focal_t_1x.py'

model = dict(
    backbone=dict(
        arch='base', drop_path_rate=0.3, with_cp=True,
        init_cfg=dict(checkpoint='pretrained/focal_base_mmfreq.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
