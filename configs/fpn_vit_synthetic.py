# Semantic-FPN + a small plain ViT (6 layers, 128 channels, patch 8) on the
# built-in synthetic scenes, from scratch on CPU: the baseline of
# fpn_fdam_vit_synthetic.py (same schedule). Make the data first:
#   python -m mmfreq.datasets.synthetic_scenes data/synthetic_ade
_base_ = './fpn_van_t_synthetic.py'
vit = dict(embed_dims=128, num_layers=6, num_heads=4, feedforward_channels=512)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmfreq.FDAMDeiT3',
        arch=vit,
        img_size=128,
        patch_size=8,
        att_inv=False,
        freq_scale=False),
    # patch 8: the pyramid is at strides 2, 4, 8, 16
    neck=[
        dict(type='mmfreq.FDAMNeck', in_channels=128, freq_scale=False),
        dict(type='FPN', in_channels=[128] * 4, out_channels=64, num_outs=4),
    ],
    decode_head=dict(feature_strides=[2, 4, 8, 16]))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0, custom_keys={'pos_embed': dict(decay_mult=0.0)}))
