# The released trained Semantic-FPN + VAN-B2 on ADE20K (VAN-Segmentation@8285fc7,
# configs/sem_fpn/fpn_van_b2_ade20k_40k.py), to evaluate as published:
# python tools/test.py configs/fpn_van_b2_ade20k_released.py FILE
# Weights: https://drive.google.com/file/d/1Ar4Hq9DjgaULQKfwM-jJvSO-D6gendpf/view (an
# mmseg 0.x file, read as it is). Published: 46.7 mIoU (single scale).
_base_ = ['./fpn_van_b.py', './_base_/ade20k_released_test.py']

# The trained file holds the backbone too: nothing to download at build time. Its
# stage LayerNorms were trained with torch's default eps (VAN-Segmentation tools/van.py).
model = dict(backbone=dict(init_cfg=None, stage_norm_eps=1e-5))

# The official test pipeline.
test_pipeline = _base_.released_test_pipeline
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
