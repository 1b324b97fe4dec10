# The test pipeline of the official ADE20K configs of the released trained models
# (VAN-Segmentation, FDAM; mmseg 0.x): the 2048x512 resize, then to a multiple of 32
# (mmseg 0.x's ResizeToMultiple). A variable: `_base_.released_test_pipeline`.
released_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
