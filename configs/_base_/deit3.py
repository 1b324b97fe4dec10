# DeiT-III backbones (FDAMDeiT3, whose att_inv / freq_scale switch FDAM), as
# variables (a config cannot inherit two `model` bases): `_base_.deit3_b_backbone`.
# Both start from the ImageNet-21k weights of facebookresearch/deit README_revenge.md
# (224 px), their position embedding interpolated to 512 px.
deit3_b_backbone = dict(
    type='mmfreq.FDAMDeiT3',
    arch='base',
    img_size=512,
    drop_path_rate=0.1,
    init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/deit/deit_3_base_224_21k.pth'))  # noqa: E501
deit3_s_backbone = dict(
    deit3_b_backbone,
    arch='small',
    init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/deit/deit_3_small_224_21k.pth'))  # noqa: E501
