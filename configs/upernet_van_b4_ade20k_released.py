# The released trained UperNet + VAN-B4 (ImageNet-1k pre-training) on ADE20K
# (VAN-Segmentation@8285fc7, configs/upernet/1k_pretrained/upernet_van_b4_512x512_160k_ade20k.py).
# Weights: https://cloud.tsinghua.edu.cn/f/5273f92c77a94395b804/?dl=1
# Published: 52.2 mIoU multi-scale (--tta).
_base_ = './upernet_van_b2_ade20k_released.py'
model = dict(backbone=dict(arch='b4', drop_path_rate=0.4))
