# RetinaNet + ResNet-50 on COCO, mmdet's 1x recipe unchanged: the baseline for
# retinanet_aa_r50_1x.py (same data, schedule and ImageNet initialisation).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/mmfreq_imports.py']
