# segformer_mit_b0_detail.py with FDAM switched on in every encoder block (AttInv,
# FreqScale after attention and Mix-FFN) and lr x 2 on FreqScale, as
# segformer_mit_b0_fdam_synthetic.py adds it to its baseline. Same data and schedule.
_base_ = './segformer_mit_b0_detail.py'

model = dict(backbone=dict(att_inv=True, freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
