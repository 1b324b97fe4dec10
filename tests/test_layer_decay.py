"""Layer-wise lr decay with custom_keys on top, for the FDAM-DeiT3 configs."""
import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmfreq.engine import layer_id_for_vit
from mmfreq.models import FDAMDeiT3, FDAMNeck
from mmfreq.testing.tools import ROOT


class Segmentor(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = FDAMDeiT3(dict(embed_dims=32, num_layers=4, num_heads=2,
                                     feedforward_channels=64), img_size=32,
                                freq_scale_cfg=dict(groups=4))
        self.neck = FDAMNeck(32, freq_scale_cfg=dict(groups=4))
        self.head = nn.Conv2d(32, 3, 1)


def test_layer_ids():
    assert layer_id_for_vit('backbone.pos_embed', 12) == 0
    assert layer_id_for_vit('backbone.patch_embed.proj.weight', 12) == 0
    assert layer_id_for_vit('backbone.layers.0.attn.qkv.weight', 12) == 1
    assert layer_id_for_vit('backbone.layers.11.gamma_2', 12) == 12
    assert layer_id_for_vit('decode_head.conv_seg.weight', 12) == 13


def test_lr_decays_by_layer_and_custom_keys_still_apply():
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(ROOT / 'configs' / 'upernet_fdam_vit_b.py')).optim_wrapper
    cfg.paramwise_cfg.num_layers = 4
    model = Segmentor()
    optimizer = build_optim_wrapper(model, cfg).optimizer
    base, rate = cfg.optimizer.lr, cfg.paramwise_cfg.layer_decay_rate
    names = {id(p): n for n, p in model.named_parameters()}
    lr = {names[id(g['params'][0])]: g['lr'] for g in optimizer.param_groups}
    wd = {names[id(g['params'][0])]: g['weight_decay'] for g in optimizer.param_groups}
    assert lr['head.weight'] == pytest.approx(base)
    assert lr['backbone.layers.3.attn.qkv.weight'] == pytest.approx(base * rate)
    assert lr['backbone.layers.0.attn.qkv.weight'] == pytest.approx(base * rate**4)
    assert lr['backbone.pos_embed'] == pytest.approx(base * rate**5)
    # FreqScale: lr_mult 2 times the layer's scale; the neck's at the base lr
    assert lr['backbone.layers.1.attn_freq_scale.basis'] == pytest.approx(2 * base * rate**3)
    assert lr['neck.freq_scales.0.basis'] == pytest.approx(2 * base)
    # the official FDAM config exempts only pos_embed, cls_token and norms from decay
    assert wd['backbone.pos_embed'] == 0 and wd['backbone.layers.2.norm1.weight'] == 0
    assert wd['backbone.layers.2.gamma_1'] == pytest.approx(cfg.optimizer.weight_decay)
    assert wd['backbone.layers.2.attn.qkv.weight'] == pytest.approx(cfg.optimizer.weight_decay)


def test_missing_settings_are_named():
    init_default_scope('mmseg')
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4),
               constructor='mmfreq.LayerDecayOptimWrapperConstructor',
               paramwise_cfg=dict(num_layers=4))
    with pytest.raises(KeyError, match='layer_decay_rate'):
        build_optim_wrapper(Segmentor(), cfg)
