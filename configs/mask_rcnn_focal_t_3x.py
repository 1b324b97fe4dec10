# Mask R-CNN + Focal-T on COCO, 3x (36 epochs) with multi-scale training (shorter
# side 480-800) and random crops: the Swin-T 3x recipe (mmdet's port of
# Swin-Transformer-Object-Detection's mask_rcnn_swin_tiny_..._adamw_3x_coco.py,
# with that repo's 500 warm-up iterations). Reported in the Focal paper: 47.2 box / 42.7 mask.
_base_ = './mask_rcnn_focal_t_1x.py'

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = _base_.focal_3x_param_scheduler
