# Mask R-CNN + Focal-S on COCO, 3x with multi-scale training.
# ImageNet-1k Focal-S: microsoft/Focal-Transformer README, focal-small-is224-ws7.pth.
_base_ = './mask_rcnn_focal_t_3x.py'

model = dict(backbone=dict(
    arch='small', drop_path_rate=0.3,
    init_cfg=dict(checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-small-is224-ws7.pth')))  # noqa: E501
