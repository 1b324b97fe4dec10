# RetinaNet + Focal-B on COCO, 3x, with activation checkpointing.
# ImageNet-1k Focal-B: microsoft/Focal-Transformer README, focal-base-is224-ws7.pth.
_base_ = './retinanet_focal_t_3x.py'

model = dict(
    backbone=dict(
        arch='base', drop_path_rate=0.3, with_cp=True,
        init_cfg=dict(checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-base-is224-ws7.pth')),  # noqa: E501
    neck=dict(in_channels=[256, 512, 1024]))
