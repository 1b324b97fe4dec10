# fpn_vit_synthetic.py with FDAM switched on: AttInv and FreqScale in every
# block, FreqScale on every pyramid level, lr_mult 2 on FreqScale (the paper's).
_base_ = './fpn_vit_synthetic.py'

model = dict(
    backbone=dict(att_inv=True, freq_scale=True, freq_scale_cfg=dict(groups=8)),
    neck=[
        dict(type='mmfreq.FDAMNeck', in_channels=128, freq_scale=True,
             freq_scale_cfg=dict(groups=8)),
        dict(type='FPN', in_channels=[128] * 4, out_channels=64, num_outs=4),
    ])
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
