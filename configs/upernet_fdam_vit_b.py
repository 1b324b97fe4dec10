# UperNet + FDAM-ViT-B (DeiT-III-B with AttInv and FreqScale in every block) +
# the FDAM neck (FreqScale on every pyramid level), ADE20K, 512x512, 160k: the
# FDAM paper's headline model. Same recipe as the baseline upernet_vit_b.py, plus
# the paper's lr_mult 2 on FreqScale parameters. The FDAM parameters are not in
# the DeiT-III checkpoint and start fresh (AttInv gammas and FreqScale bases at
# 1e-5, so the network starts as the pre-trained ViT); the log lists them.
# Reported in the FDAM paper (single-scale mIoU): 52.6 (DeiT-III-B: 51.8).
_base_ = './upernet_vit_b.py'

model = dict(
    backbone=dict(att_inv=True, freq_scale=True),
    neck=dict(freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
