# Mask R-CNN + AA-ResNet-50 on COCO, mmdet's 1x recipe: compare with
# mask_rcnn_r50_1x.py. Stage 2 stays convolutional for memory, as in
# retinanet_aa_r50_1x.py.
_base_ = './mask_rcnn_r50_1x.py'
# ImageNet weights: torchvision://resnet50 from the base config, which mmengine maps
# (hub/torchvision_0.12.json) to torchvision's ResNet50_Weights.IMAGENET1K_V1,
# https://download.pytorch.org/models/resnet50-0676ba61.pth (torchvision/models/resnet.py).

model = dict(
    backbone=dict(type='mmfreq.AAResNet', stage_with_aa=(False, False, True, True)))
