# The released trained UperNet + VAN-B5 (ImageNet-22k pre-training) on ADE20K
# (VAN-Segmentation@8285fc7,
# configs/upernet/22k_pretrained/upernet_van_b5_512x512_160k_ade20k_22k.py).
# Weights: https://cloud.tsinghua.edu.cn/f/2175bdc39d094e5f8f99/?dl=1
# Published: 53.9 mIoU multi-scale (--tta).
_base_ = './upernet_van_b2_ade20k_released.py'
model = dict(
    backbone=dict(arch='b5', drop_path_rate=0.4),
    decode_head=dict(in_channels=[96, 192, 480, 768]),
    auxiliary_head=dict(in_channels=480))
