# segformer_mit_b0_synthetic.py with FDAM switched on in every encoder block
# (AttInv, FreqScale after attention and Mix-FFN with the trained setting) and
# lr x 2 on the FreqScale parameters, as segformer_mit_b0_fdam.py.
_base_ = './segformer_mit_b0_synthetic.py'

model = dict(backbone=dict(att_inv=True, freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
