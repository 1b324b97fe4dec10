# Ablation of segformer_mit_b0_fdam_detail.py: FreqScale alone (after attention and
# Mix-FFN in every encoder block, lr x 2), AttInv off. Same data and schedule.
_base_ = './segformer_mit_b0_detail.py'

model = dict(backbone=dict(freq_scale=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
