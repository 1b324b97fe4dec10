# UperNet + DeiT-S on ADE20K, 512x512, 160k iterations, 8 GPUs x 2 images, AdamW 6e-5:
# mmseg's own baseline (vit/vit_deit-s16_upernet_8xb2-160k_ade20k-512x512.py: its ViT
# with the class token, no neck, UPerHead on the 1/16 maps of layers 3, 6, 9, 12, FCN
# auxiliary head) with the backbone swapped for mmfreq.FDAMVisionTransformer with FDAM
# off, which computes mmseg's ViT on the same weights (tests/test_fdam_deit.py), so that
# upernet_deit_s_fdam.py differs from this file by FDAM alone.
# Changes to mmseg 1.2's file, each restoring the run its number comes from (mmseg
# 0.x's upernet_deit-s16_512x512_160k_ade20k.py, trained 2021-06):
# - 160k iterations: mmseg 1.2's "160k" file inherits its 80k base (max_iters and the
#   poly decay end at 80000).
# - patch_bias=True: mmseg 1.x's ViT has no patch-embedding bias (patch_bias=False) and
#   its non-strict loader drops the one in the DeiT weights; mmseg 0.x had it.
# - No 'norm' key among the decay exemptions: it matches none of mmseg's ViT parameters
#   (its LayerNorms are ln1 / ln2), so they are decayed; mmfreq's are norm1 / norm2 and
#   would not be. The optimizer treats every parameter as mmseg's does.
# - (In the backbone) stochastic depth on the attention and the MLP branch, as in mmseg
#   0.x and DeiT; mmseg 1.x's ViT layer drops the MLP branch only.
# - The DeiT-S release named by URL and loaded strictly (mmseg: a local file converted
#   by its vit2mmseg.py).
# Reported (ADE20K, single-scale mIoU): 42.87 in mmseg's metafile; 42.9 as the baseline
# of the FDAM paper's DeiT-S row.
_base_ = ['mmseg::vit/vit_deit-s16_upernet_8xb2-160k_ade20k-512x512.py',
          './_base_/mmfreq_imports.py']

model = dict(
    pretrained=None,
    backbone=dict(
        type='mmfreq.FDAMVisionTransformer',
        patch_bias=True,
        att_inv=False,
        freq_scale=False,
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth')))  # noqa: E501
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(
    _delete_=True, pos_embed=dict(decay_mult=0.0), cls_token=dict(decay_mult=0.0))))

max_iters = 160000  # mmseg's schedule_160k.py
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=16000)
default_hooks = dict(checkpoint=dict(interval=16000))
