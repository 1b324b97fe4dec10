# Mask R-CNN + a narrow AA-ResNet-50 (16 base channels, 4 heads) on the built-in
# synthetic COCO-format scenes, from scratch on CPU. The plain-ResNet baseline:
#   --cfg-options "model.backbone.stage_with_aa=(False,False,False,False)"
_base_ = ['./mask_rcnn_van_t_synthetic.py', './_base_/aa_resnet.py']

model = dict(
    backbone=dict(_delete_=True, **_base_.narrow_aa_r50_backbone),
    neck=dict(in_channels=[64, 128, 256, 512]))
