# The released trained Semantic-FPN + VAN-B2 on ADE20K (VAN-Segmentation@8285fc7,
# configs/sem_fpn/fpn_van_b2_ade20k_40k.py), to evaluate as published:
# python tools/test.py configs/fpn_van_b2_ade20k_released.py FILE
# Weights: https://drive.google.com/file/d/1Ar4Hq9DjgaULQKfwM-jJvSO-D6gendpf/view (an
# mmseg 0.x file, read as it is). Published: 46.7 mIoU (single scale).
_base_ = './fpn_van_b.py'

# The trained file holds the backbone too: nothing to download at build time.
model = dict(backbone=dict(init_cfg=None))

# The official test pipeline: the 2048x512 resize and then to a multiple of 32 (mmseg
# 0.x's ResizeToMultiple).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
