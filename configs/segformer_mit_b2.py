# SegFormer-B2 on ADE20K, 512x512, 160k iterations: mmseg's own row (the recipe of
# segformer_mit_b0.py), with its MixVisionTransformer replaced by mmfreq.FDAMMiT
# with FDAM off; mmseg's mit_b2 loads strictly. The baseline of segformer_mit_b2_fdam.py.
# Published (ADE20K val, single-scale mIoU): mmseg 45.58 (its segformer README).
# The FDAM paper reports no B2 row.
_base_ = [
    'mmseg::segformer/segformer_mit-b2_8xb2-160k_ade20k-512x512.py',
    './_base_/mmfreq_imports.py',
]

model = dict(backbone=dict(type='mmfreq.FDAMMiT', att_inv=False, freq_scale=False))
