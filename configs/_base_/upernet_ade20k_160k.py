# mmseg's UperNet on ADE20K (150 classes), 512x512, 160k iterations, for a
# backbone of mmfreq's: no 'pretrained' (EncoderDecoder would push mmseg's
# ResNet-V1c weights into the backbone), batches padded to the crop size.
_base_ = ['mmseg::_base_/models/upernet_r50.py', './ade20k_160k.py']

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
