# upernet_deit_s.py with FDAM in every block of the DeiT-S (AttInv in the attention,
# a residual FreqScale after the attention and after the MLP; FreqScale with the trained
# official settings: 16 groups, 4 basis filters, basis 14, router 0.0625 C) and lr_mult 2
# on the FreqScale parameters, as in the official FDAM config. The class token takes part
# in the attention and AttInv, not in FreqScale (docs/backbones.md). The FDAM parameters
# are not in the DeiT-S weights and start fresh (AttInv gammas and FreqScale bases at
# 1e-5, so the network starts as the pre-trained ViT); the log lists them.
# Reported in the FDAM paper (ADE20K, single-scale mIoU; its code for this host was not
# released): 44.3 (DeiT-S: 42.9).
_base_ = './upernet_deit_s.py'

model = dict(backbone=dict(att_inv=True, freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
