# The released trained Semantic-FPN + VAN-B0 on ADE20K (VAN-Segmentation@8285fc7,
# configs/sem_fpn/fpn_van_b0_ade20k_40k.py).
# Weights: https://drive.google.com/file/d/1Jl8LtyvOl6xeNMKCjpK2Rp_tGRfua8LJ/view
# Published: 38.5 mIoU (single scale).
_base_ = './fpn_van_b2_ade20k_released.py'
model = dict(backbone=dict(arch='b0'), neck=dict(in_channels=[32, 64, 160, 256]))
