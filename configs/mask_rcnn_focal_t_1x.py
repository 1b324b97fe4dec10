# Mask R-CNN + Focal-T on COCO, 1x (12 epochs, 8 GPUs x 2 images): mmdet's Swin-T
# recipe (AdamW lr 1e-4, wd 0.05, no decay on norms and position biases), the
# setting the Focal paper follows. Reported in the Focal paper: 44.8 box / 41.0 mask.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
# Registers mmfreq's modules and its safe checkpoint loader, also for the host
# toolboxes' own tools and inferencers (see mmfreq/safe_loading.py).
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                      allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmfreq.FocalTransformer',
        arch='tiny',
        drop_path_rate=0.2,
        # ImageNet-1k Focal-T: microsoft/Focal-Transformer README, focal-tiny-is224-ws7.pth.
        init_cfg=dict(type='Pretrained', checkpoint='https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-tiny-is224-ws7.pth')))  # noqa: E501
