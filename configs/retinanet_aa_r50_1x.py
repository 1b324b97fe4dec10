# RetinaNet + AA-ResNet-50 on COCO: the attention-augmented detector of the AA
# paper (Bello et al., ICCV 2019), on mmdet's 1x recipe so that it compares like
# for like with retinanet_r50_1x.py. The convolutional part starts from the same
# torchvision ResNet-50 weights (augmented 3x3 convs keep their first filters);
# the attention starts fresh and the log lists its keys.
# Stage 2 is left convolutional here: at 800x1333 it has 100x167 positions and
# its full attention would hold 8 x 16.7k^2 logits per image and layer (8.9 GB
# in fp32) for the backward pass.
_base_ = './retinanet_r50_1x.py'
# ImageNet weights: torchvision://resnet50 from the base config, which mmengine maps
# (hub/torchvision_0.12.json) to torchvision's ResNet50_Weights.IMAGENET1K_V1,
# https://download.pytorch.org/models/resnet50-0676ba61.pth (torchvision/models/resnet.py).

model = dict(
    backbone=dict(type='mmfreq.AAResNet', stage_with_aa=(False, False, True, True)))
