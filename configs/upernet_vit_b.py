# UperNet + DeiT-III-B (a plain ViT with layer scale, no class token) + the plain
# multi-level pyramid on ADE20K, 512x512, 160k iterations: the baseline of
# upernet_fdam_vit_b.py, with the recipe of the official FDAM config
# (FDAM_mmseg/configs/vit/upernet_deit3-b16_512x512_160k_ade20k_freq.py): 8 GPUs x
# 4 images, AdamW lr 6e-5, wd 0.01, layer-wise lr decay 0.95 over 12 layers, no
# decay on pos_embed, cls_token and norms only, 1500 linear warm-up iterations,
# then poly decay. The pyramid is that config's SimpleMultiLevelNeck (4x: deconv,
# norm, GELU, deconv; 2x: deconv; 1x; 0.5x: max-pool), FDAMNeck without FreqScale.
# Reported in the FDAM paper (ADE20K, single-scale mIoU): DeiT-III-B 51.8.
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py', './_base_/ade20k_160k.py',
    './_base_/deit3.py'
]

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(_base_.deit3_b_backbone, _delete_=True, drop_path_rate=0.15, att_inv=False,
                  freq_scale=False),
    neck=dict(_delete_=True, type='mmfreq.FDAMNeck', in_channels=768,
              norm_cfg=dict(type='SyncBN', requires_grad=True), freq_scale=False),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))

train_dataloader = dict(batch_size=4)  # 8 GPUs x 4 images (samples_per_gpu=4)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='mmfreq.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.95,
                       custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'cls_token': dict(decay_mult=0.0),
                                    'norm': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=160000),
]
