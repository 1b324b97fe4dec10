# upernet_deit_s_detail.py with FDAM in every block (AttInv; FreqScale after the
# attention and the MLP, 8 groups for 128 channels) and lr x 2 on FreqScale, as
# upernet_deit_s_fdam_synthetic.py adds it to its baseline. Same data and schedule.
_base_ = './upernet_deit_s_detail.py'

model = dict(backbone=dict(att_inv=True, freq_scale=True, freq_scale_cfg=dict(groups=8)))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
