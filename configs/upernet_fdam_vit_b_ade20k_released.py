# The released trained UperNet + DeiT-III-B + FDAM on ADE20K (Linwei-Chen/FDAM@210232f,
# FDAM_mmseg/configs/vit/upernet_deit3-b16_512x512_160k_ade20k_freq.py), to evaluate as
# published: python tools/test.py configs/upernet_fdam_vit_b_ade20k_released.py FILE
# Weights: https://pan.baidu.com/s/1bylU0PojPlbsE1-ERbB05w?pwd=ICCV (FDAM_mmseg/README.md;
# an mmseg 0.25 file, read as it is). Published: 52.6 mIoU (single scale).
_base_ = ['./upernet_fdam_vit_b.py', './_base_/ade20k_released_test.py']

# The trained file holds the backbone too: nothing to download at build time.
model = dict(backbone=dict(init_cfg=None))

# The official test pipeline; the whole image in one pass, as the official test_cfg.
test_pipeline = _base_.released_test_pipeline
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
