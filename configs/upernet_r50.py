# UperNet + ResNet-50 (torchvision weights, plain stem) on ADE20K, 512x512, 160k
# iterations with mmseg's SGD recipe: the baseline for upernet_aa_r50.py. (mmseg's
# own UperNet R-50 uses the deep-stem ResNetV1c; the plain stem is used here so
# that AA-ResNet and its baseline load the same ImageNet weights.)
_base_ = './_base_/upernet_ade20k_160k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
