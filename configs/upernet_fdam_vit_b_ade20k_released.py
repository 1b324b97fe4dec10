# The released trained UperNet + DeiT-III-B + FDAM on ADE20K (Linwei-Chen/FDAM@210232f,
# FDAM_mmseg/configs/vit/upernet_deit3-b16_512x512_160k_ade20k_freq.py), to evaluate as
# published: python tools/test.py configs/upernet_fdam_vit_b_ade20k_released.py FILE
# Weights: https://pan.baidu.com/s/1bylU0PojPlbsE1-ERbB05w?pwd=ICCV (FDAM_mmseg/README.md;
# an mmseg 0.25 file, read as it is). Published: 52.6 mIoU (single scale).
_base_ = './upernet_fdam_vit_b.py'

# The trained file holds the backbone too: nothing to download at build time.
model = dict(backbone=dict(init_cfg=None))

# The official test pipeline: the 2048x512 resize and then to a multiple of 32 (mmseg
# 0.x's ResizeToMultiple); the whole image in one pass, as the official test_cfg.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
