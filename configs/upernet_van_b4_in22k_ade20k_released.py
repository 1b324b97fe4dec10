# The released trained UperNet + VAN-B4 (ImageNet-22k pre-training) on ADE20K
# (VAN-Segmentation@8285fc7,
# configs/upernet/22k_pretrained/upernet_van_b4_512x512_160k_ade20k_22k.py).
# Weights: https://cloud.tsinghua.edu.cn/f/8f1f0a9c4c71478fa43b/?dl=1
# Published: 53.5 mIoU multi-scale (--tta).
_base_ = './upernet_van_b4_ade20k_released.py'
