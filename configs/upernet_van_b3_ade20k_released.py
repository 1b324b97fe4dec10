# The released trained UperNet + VAN-B3 on ADE20K (VAN-Segmentation@8285fc7,
# configs/upernet/1k_pretrained/upernet_van_b3_512x512_160k_ade20k.py).
# Weights: https://cloud.tsinghua.edu.cn/f/97bde65fbe334b358797/?dl=1
# Published: 50.6 mIoU multi-scale (--tta).
_base_ = './upernet_van_b2_ade20k_released.py'
model = dict(backbone=dict(arch='b3', drop_path_rate=0.3))
