# mmseg's Semantic-FPN on ADE20K (150 classes), 512x512, 40k iterations, for a
# backbone of mmfreq's: no 'pretrained' (EncoderDecoder would push mmseg's
# ResNet-V1c weights into the backbone), batches padded to the crop size.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
    './mmfreq_imports.py',
]

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=150))
