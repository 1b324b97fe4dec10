# The released trained Semantic-FPN + VAN-B1 on ADE20K (VAN-Segmentation@8285fc7,
# configs/sem_fpn/fpn_van_b1_ade20k_40k.py).
# Weights: https://drive.google.com/file/d/1Xfuo9D3Fo7b6zSCLTWE77k2jgYSHVSb8/view
# Published: 42.9 mIoU (single scale).
_base_ = './fpn_van_b2_ade20k_released.py'
model = dict(backbone=dict(arch='b1'))
