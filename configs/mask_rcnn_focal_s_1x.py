# Mask R-CNN + Focal-S on COCO, 1x. Reported in the Focal paper: 47.4 box / 42.8 mask.
# ImageNet-1k Focal-S: microsoft/Focal-Transformer README, focal-small-is224-ws7.pth.
_base_ = './mask_rcnn_focal_t_1x.py'

model = dict(backbone=dict(
    arch='small', drop_path_rate=0.3,
    init_cfg=dict(checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-small-is224-ws7.pth')))  # noqa: E501
