# The released trained UperNet + VAN-B2 on ADE20K (VAN-Segmentation@8285fc7,
# configs/upernet/1k_pretrained/upernet_van_b2_512x512_160k_ade20k.py), to evaluate as
# published: python tools/test.py configs/upernet_van_b2_ade20k_released.py FILE --tta
# Weights: https://cloud.tsinghua.edu.cn/f/68c8b494f3824d30bf07/?dl=1 (an mmseg 0.x file,
# read as it is). Published: 50.1 mIoU multi-scale (ratios 0.5-1.75 + flip: --tta);
# without --tta this is the official config's single-scale test.
_base_ = ['./upernet_van_b.py', './_base_/ade20k_released_test.py']

# The trained file holds the backbone too: nothing to download at build time. Its
# stage LayerNorms were trained with torch's default eps (VAN-Segmentation tools/van.py).
model = dict(backbone=dict(init_cfg=None, stage_norm_eps=1e-5))

# The official test pipeline; its multiple of 32 on every scale of the multi-scale
# test as well.
test_pipeline = _base_.released_test_pipeline
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True)
         for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)],
        [dict(type='ResizeToMultiple', size_divisor=32)],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations')],
        [dict(type='PackSegInputs')],
    ]),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
