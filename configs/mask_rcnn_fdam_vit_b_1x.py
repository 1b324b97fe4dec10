# Mask R-CNN + FDAM-DeiT3-B on COCO, 1x schedule (12 epochs, 8 GPUs x 2 images).
# The FDAM neck makes the 1/4...1/32 pyramid from layers 3, 6, 9, 12 and mmdet's
# FPN adds P6. A ViTDet-style recipe for plain ViT-B (AdamW lr 1e-4, wd 0.1,
# layer-wise lr decay 0.7, drop path 0.1), with FDAM's lr_mult 2 on FreqScale and
# activation checkpointing so 1333x800 training fits. Initialised from DeiT-III-B.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/mmfreq_imports.py',
    './_base_/deit3.py'
]

model = dict(
    backbone=dict(_delete_=True, **_base_.deit3_b_backbone, with_cp=True),
    neck=[
        dict(type='mmfreq.FDAMNeck', in_channels=768),
        dict(type='FPN', in_channels=[768] * 4, out_channels=256, num_outs=5),
    ])

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='mmfreq.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.7, flat_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'freq_scale': dict(lr_mult=2.0)}))
