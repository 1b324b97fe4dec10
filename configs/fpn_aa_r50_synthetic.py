# Semantic-FPN + a narrow AA-ResNet-50 (16 base channels, 4 heads) on the
# built-in synthetic scenes: AA-ResNet's small-data run on CPU. The plain-ResNet
# baseline of the same run:
#   python tools/train.py configs/fpn_aa_r50_synthetic.py \
#       --cfg-options "model.backbone.stage_with_aa=(False,False,False,False)"
_base_ = ['./fpn_van_t_synthetic.py', './_base_/aa_resnet.py']

model = dict(
    backbone=dict(_delete_=True, **_base_.narrow_aa_r50_backbone,
                  norm_cfg=dict(type='SyncBN', requires_grad=True)),
    neck=dict(in_channels=[64, 128, 256, 512]))
