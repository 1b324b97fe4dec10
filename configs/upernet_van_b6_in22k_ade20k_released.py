# The released trained UperNet + VAN-B6 (ImageNet-22k pre-training) on ADE20K
# (VAN-Segmentation@8285fc7,
# configs/upernet/22k_pretrained/upernet_van_b6_512x512_160k_ade20k_22k.py).
# Weights: https://cloud.tsinghua.edu.cn/f/853d9d0ea0f44c2aa090/?dl=1
# Published: 54.7 mIoU multi-scale (--tta).
_base_ = './upernet_van_b2_ade20k_released.py'
model = dict(
    backbone=dict(arch='b6', drop_path_rate=0.5),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
