# UperNet + FDAM-DeiT3-B (DeiT-III-B with AttInv and FreqScale in every block) on
# ADE20K, 512x512, 160k: the FDAM paper's headline model as its official config
# builds it (FDAM_mmseg/configs/vit/upernet_deit3-b16_512x512_160k_ade20k_freq.py):
# the plain pyramid without FreqScale, the baseline's recipe (upernet_vit_b.py:
# 8 GPUs x 4 images, decay exemptions pos_embed / cls_token / norm) plus lr_mult 2
# on the FreqScale parameters. The FDAM parameters are not in the DeiT-III
# checkpoint and start fresh (AttInv gammas and FreqScale bases at 1e-5, so the
# network starts as the pre-trained ViT); the log lists them.
# Reported in the FDAM paper (single-scale mIoU): 52.6 (DeiT-III-B: 51.8).
# upernet_fdam_vit_b_neck_freq_scale.py adds FreqScale to the pyramid (mmfreq's).
_base_ = './upernet_vit_b.py'

model = dict(backbone=dict(att_inv=True, freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
