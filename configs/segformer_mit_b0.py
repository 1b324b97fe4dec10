# SegFormer-B0 on ADE20K, 512x512, 160k iterations: mmseg's own row, its data,
# schedule (8 GPUs x 2 images), AdamW recipe, SegformerHead and ImageNet weights
# unchanged, with its MixVisionTransformer replaced by mmfreq.FDAMMiT with FDAM off
# (its type only: FDAMMiT takes mmseg's arguments; the same network and parameter
# names, so mmseg's mit_b0 loads strictly).
# The baseline of segformer_mit_b0_fdam.py.
# Published (ADE20K val, single-scale mIoU): mmseg 37.41 (its segformer README);
# the FDAM paper (Linwei-Chen/FDAM README): 37.4 without FDAM, 39.8 with FDAM.
_base_ = [
    'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py',
    './_base_/mmfreq_imports.py',
]

model = dict(backbone=dict(type='mmfreq.FDAMMiT', att_inv=False, freq_scale=False))
