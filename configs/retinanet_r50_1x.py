# RetinaNet + ResNet-50 on COCO, mmdet's 1x recipe unchanged: the baseline for
# retinanet_aa_r50_1x.py (same data, schedule and ImageNet initialisation).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
# Registers mmfreq's modules and its safe checkpoint loader, also for the host
# toolboxes' own tools and inferencers (see mmfreq/safe_loading.py).
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                      allow_failed_imports=False)
