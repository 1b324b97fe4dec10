# segformer_mit_b2.py with FDAM in every block of the encoder, as
# segformer_mit_b0_fdam.py (AttInv; FreqScale after attention and Mix-FFN with the
# official trained setting; lr x 2 on FreqScale). Published: mmseg's SegFormer-B2
# 45.58 mIoU (ADE20K val, single scale); the FDAM paper reports no B2 row.
_base_ = './segformer_mit_b2.py'

model = dict(backbone=dict(att_inv=True, freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
