# UperNet + AA-ResNet-50 on ADE20K, 512x512, 160k: compare with upernet_r50.py.
# At 512x512 every stage but the first is augmented (stage 2 attends over 64x64
# positions), as the AA paper does for ImageNet.
_base_ = './upernet_r50.py'
# ImageNet weights: torchvision://resnet50 from the base config, which mmengine maps
# (hub/torchvision_0.12.json) to torchvision's ResNet50_Weights.IMAGENET1K_V1,
# https://download.pytorch.org/models/resnet50-0676ba61.pth (torchvision/models/resnet.py).

model = dict(backbone=dict(type='mmfreq.AAResNet'))
