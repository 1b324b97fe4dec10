# VAN-B2 ImageNet-1k classification with mmpretrain's recipe (8 GPUs x 128
# images, 300 epochs, AdamW): only the backbone is mmfreq's. Reported (VAN paper):
# 82.8 top-1. Train: python tools/train.py configs/van_b_in1k.py
_base_ = ['mmpretrain::van/van-base_8xb128_in1k.py', './_base_/mmfreq_imports.py']
model = dict(
    backbone=dict(_delete_=True, type='mmfreq.VAN', arch='b2', drop_path_rate=0.1,
                  out_indices=(3, )))
