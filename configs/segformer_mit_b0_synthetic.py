# SegFormer-B0 (FDAM off) on the built-in synthetic scenes, from scratch on CPU:
# the baseline of segformer_mit_b0_fdam_synthetic.py (same data, schedule and
# optimizer as fpn_van_t_synthetic.py; a SegformerHead 64 channels wide).
# Make the data first: python -m mmfreq.datasets.synthetic_scenes data/synthetic_ade
_base_ = './fpn_van_t_synthetic.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmfreq.FDAMMiT',
        arch='b0',
        att_inv=False,
        freq_scale=False),
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='SegformerHead',
        in_channels=[32, 64, 160, 256],
        in_index=[0, 1, 2, 3],
        channels=64,
        dropout_ratio=0.1,
        num_classes=6,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
