# upernet_deit_s.py's architecture at a CPU-sized width on the built-in synthetic
# scenes, from scratch: mmseg's ViT layout through mmfreq.FDAMVisionTransformer (class
# token, FDAM off), no neck, UPerHead on four maps of the same stride, an FCN auxiliary
# head. 6 layers of 128 channels, 4 heads, patch 8 (maps at stride 8 of the 128x128
# crops); the data and schedule of fpn_van_t_synthetic.py (600 iterations of 8 images).
# The baseline of upernet_deit_s_fdam_synthetic.py. Make the data first:
#   python -m mmfreq.datasets.synthetic_scenes data/synthetic_ade
_base_ = './fpn_van_t_synthetic.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN on CPU (mmfreq's runner)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmfreq.FDAMVisionTransformer',
        img_size=128,
        patch_size=8,
        embed_dims=128,
        num_layers=6,
        num_heads=4,
        out_indices=(1, 3, 4, 5),
        norm_cfg=dict(type='LN', eps=1e-6),
        patch_bias=True,
        att_inv=False,
        freq_scale=False),
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[128] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=64,
        dropout_ratio=0.1,
        num_classes=6,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=128,
        in_index=3,
        channels=32,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=6,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'cls_token': dict(decay_mult=0.0)}))
