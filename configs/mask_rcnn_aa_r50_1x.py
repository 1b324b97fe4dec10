# Mask R-CNN + AA-ResNet-50 on COCO, mmdet's 1x recipe: compare with
# mask_rcnn_r50_1x.py. Stage 2 stays convolutional for memory, as in
# retinanet_aa_r50_1x.py.
_base_ = './mask_rcnn_r50_1x.py'

model = dict(
    backbone=dict(type='mmfreq.AAResNet', stage_with_aa=(False, False, True, True)))
