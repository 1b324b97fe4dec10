# UperNet + AA-ResNet-50 on ADE20K, 512x512, 160k: compare with upernet_r50.py.
# At 512x512 every stage but the first is augmented (stage 2 attends over 64x64
# positions), as the AA paper does for ImageNet.
_base_ = './upernet_r50.py'

model = dict(backbone=dict(type='mmfreq.AAResNet'))
