# Mask R-CNN + ResNet-50 on COCO, mmdet's 1x recipe unchanged: the baseline for
# mask_rcnn_aa_r50_1x.py.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/mmfreq_imports.py']
