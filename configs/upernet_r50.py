# UperNet + ResNet-50 (torchvision weights, plain stem) on ADE20K, 512x512, 160k
# iterations with mmseg's SGD recipe: the baseline for upernet_aa_r50.py. (mmseg's
# own UperNet R-50 uses the deep-stem ResNetV1c; the plain stem is used here so
# that AA-ResNet and its baseline load the same ImageNet weights.)
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
# Registers mmfreq's modules and its safe checkpoint loader, also for the host
# toolboxes' own tools and inferencers (see mmfreq/safe_loading.py).
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                      allow_failed_imports=False)
crop_size = (512, 512)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
