# Mask R-CNN + Focal-B on COCO, 3x with multi-scale training.
# ImageNet-1k Focal-B: microsoft/Focal-Transformer README, focal-base-is224-ws7.pth.
_base_ = './mask_rcnn_focal_t_3x.py'

model = dict(
    backbone=dict(
        arch='base', drop_path_rate=0.3, with_cp=True,
        init_cfg=dict(checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-base-is224-ws7.pth')),  # noqa: E501
    neck=dict(in_channels=[128, 256, 512, 1024]))
