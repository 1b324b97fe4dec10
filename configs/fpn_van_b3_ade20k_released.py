# The released trained Semantic-FPN + VAN-B3 on ADE20K (VAN-Segmentation@8285fc7,
# configs/sem_fpn/fpn_van_b3_ade20k_40k.py).
# Weights: https://drive.google.com/file/d/1v61uCi07IC6eyVHn3xbJqz4nOiGa1POY/view
# Published: 48.1 mIoU (single scale).
_base_ = './fpn_van_b2_ade20k_released.py'
model = dict(backbone=dict(arch='b3', drop_path_rate=0.3))
