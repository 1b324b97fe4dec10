# UperNet + Focal-T on ADE20K, 512x512, 160k: mmseg's Swin-T UperNet recipe
# (AdamW lr 6e-5, wd 0.01, 1500 warm-up iterations, poly decay, 8 GPUs x 2
# images). Reported in the Focal paper: 45.8 mIoU single-scale, 47.0 multi-scale.
# The Focal README reports UperNet 62M parameters; this model has 60.84M (1.9%
# fewer; the official segmentation code was never released,
# segmentation/get_started.md).
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    './_base_/mmfreq_imports.py', './_base_/focal.py'
]

model = dict(backbone=dict(_delete_=True, **_base_.focal_t_backbone))
