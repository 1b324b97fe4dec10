# segformer_mit_b0.py with FDAM in every block of the encoder: AttInv in each
# efficient attention, FreqScale (16 groups, 4 filters, basis 14, router 0.0625 C,
# the official trained setting) after each attention and Mix-FFN, and lr x 2 on the
# FreqScale parameters as in the official FDAM config. The FDAM parameters are not
# in mit_b0 and start fresh (gammas and bases at 1e-5); the log lists them.
# Published (ADE20K val, single-scale mIoU): the FDAM paper (Linwei-Chen/FDAM
# README) 39.8 (its baseline 37.4); mmseg's SegFormer-B0: 37.41.
_base_ = './segformer_mit_b0.py'

model = dict(backbone=dict(att_inv=True, freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
