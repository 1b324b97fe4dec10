# Semantic-FPN + FDAM-DeiT3-S (DeiT-III-S with AttInv and FreqScale) on ADE20K,
# 512x512, 40k iterations. The FDAM neck makes the 1/4...1/32 pyramid from
# layers 3, 6, 9, 12; mmseg's FPN then unifies the channels. Initialised from
# DeiT-III-S.
_base_ = ['./fpn_van_b.py', './_base_/deit3.py']

model = dict(
    backbone=dict(_delete_=True, **_base_.deit3_s_backbone),
    neck=[
        dict(type='mmfreq.FDAMNeck', in_channels=384,
             norm_cfg=dict(type='SyncBN', requires_grad=True)),
        dict(type='FPN', in_channels=[384] * 4, out_channels=256, num_outs=4),
    ])

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='mmfreq.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.9, flat_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'freq_scale': dict(lr_mult=2.0)}))
