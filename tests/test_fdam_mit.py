"""FDAM Mix Transformer (mmfreq.FDAMMiT): SegFormer's encoder with AttInv and
FreqScale, checked against the installed mmseg's MixVisionTransformer and
mit2mmseg converter, the NVlabs release's key names (a fixture) and the FDAM
formulas written out here."""
import inspect
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmfreq.errors import UserError
from mmfreq.models import FDAMDeiT3, FDAMMiT
from mmfreq.models.backbones.fdam_mit import EfficientAttention, FDAMMiTBlock
from mmfreq.testing.compile import assert_compiles_like_eager
from mmfreq.testing.fixtures import release_tensors, save_release
from mmfreq.testing.tools import ROOT, load_script, read_config, run_tool, small_run_options
from mmfreq.utils.weights import load_pretrained_weights

# mmseg's SegFormer-B0 backbone (mmseg/.mim/configs/_base_/models/segformer_mit-b0.py)
MMSEG_B0 = dict(embed_dims=32, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8])
# a narrow four-stage arch (widths 8, 16, 16, 32) with the b0 sr ratios
TINY = dict(embed_dims=8, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 2, 4])
# one block per stage: the whole-network compile checks trace each block twice
COMPILE_ARCH = dict(TINY, num_layers=[1, 1, 1, 1])
SMALL_FREQ = dict(groups=4, num_filters=2, basis_size=6, router_ratio=0.5)
FDAM_OFF = dict(att_inv=False, freq_scale=False)
SIZES = [(64, 64), (97, 131), (45, 38)]


def mmseg_folder() -> Path:
    import mmseg
    return Path(mmseg.__file__).parent / '.mim'


def mmseg_mit(arch: dict = MMSEG_B0, seed: int = 0) -> nn.Module:
    """mmseg's MixVisionTransformer, initialised as mmseg does, then every
    parameter moved off its initial value (LayerNorms, biases)."""
    from mmseg.models.backbones import MixVisionTransformer

    torch.manual_seed(seed)
    model = MixVisionTransformer(**arch)
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def randomise_(module: nn.Module, std: float = 0.3) -> None:
    """Move every parameter off its initial value so that each FDAM term matters."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * std)


def features(model: nn.Module, size=(64, 96), batch: int = 1) -> tuple:
    torch.manual_seed(0)
    with torch.no_grad():
        return tuple(model(torch.randn(batch, 3, *size)))


def assert_close_outputs(a: tuple, b: tuple, tol: float = 1e-5) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=tol, atol=tol)


def loaded(source, **kwargs) -> FDAMMiT:
    torch.manual_seed(0)
    model = FDAMMiT(**kwargs, init_cfg=dict(type='Pretrained', checkpoint=str(source)))
    model.init_weights()
    return model.eval()


def mit2mmseg():
    """``convert_mit`` of the installed mmseg's tools/model_converters/mit2mmseg.py."""
    return load_script(mmseg_folder() / 'tools' / 'model_converters' / 'mit2mmseg.py').convert_mit


# ------------------------------------------------------------ FDAM off = mmseg

@pytest.fixture(scope='module')
def mmseg_b0():
    return mmseg_mit()


def test_fdam_off_has_mmsegs_names_and_shapes(mmseg_b0):
    ours = FDAMMiT('b0', **FDAM_OFF)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in mmseg_b0.state_dict().items()}
    # DESIGN.md section 9: MiT-B0 has 3,319,392 parameters (the NVlabs fixture, less its head)
    assert sum(p.numel() for p in ours.parameters()) == 3_319_392


@pytest.mark.parametrize('size', SIZES)
def test_fdam_off_equals_mmsegs_mix_vision_transformer(mmseg_b0, size):
    ours = FDAMMiT('b0', **FDAM_OFF).eval()
    ours.load_state_dict(mmseg_b0.state_dict())  # strict
    expected = features(mmseg_b0, size)
    got = features(ours, size)
    h, w = size
    for i, out in enumerate(got):  # stride 4, then 8, 16, 32 (convs with padding k // 2)
        h, w = (h - 1) // (4 if i == 0 else 2) + 1, (w - 1) // (4 if i == 0 else 2) + 1
        assert out.shape[2:] == (h, w)
    assert_close_outputs(got, expected)


def test_an_mmseg_segformer_backbone_switches_by_its_type_alone(mmseg_b0):
    """The backbone of mmseg's segformer_mit-b0 base config, with only ``type``
    changed (and FDAM switched off): the same network as mmseg's."""
    from mmengine.config import Config

    from mmfreq.registry import MODELS

    cfg = Config.fromfile(mmseg_folder() / 'configs/_base_/models/segformer_mit-b0.py')
    backbone = dict(cfg.model.backbone, type='mmfreq.FDAMMiT', **FDAM_OFF)
    ours = MODELS.build(backbone).eval()
    ours.load_state_dict(mmseg_b0.state_dict())  # strict
    assert_close_outputs(features(ours, (97, 131)), features(mmseg_b0, (97, 131)))


@pytest.mark.parametrize('options, named', [
    (dict(arch='b0', embed_dims=32), "arch='b0'"),  # two layouts
    (dict(**MMSEG_B0, num_stages=3), 'num_stages=3'),
    (dict(norm_cfg=dict(type='BN')), "norm_cfg={'type': 'BN'}"),
    (dict(act_cfg=dict(type='ReLU')), "act_cfg={'type': 'ReLU'}"),
])
def test_mmseg_arguments_it_cannot_honour_are_named(options, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        FDAMMiT(**options)


def test_what_mmsegs_own_mit_test_asks():
    """mmseg's tests/test_models/test_backbones/test_mit.py, asked of FDAMMiT
    with FDAM on and off: its errors are mmseg's types, and its layout
    arguments take mmseg's defaults (the same network as mmseg's)."""
    from mmseg.models.backbones import MixVisionTransformer

    with pytest.raises(TypeError, match='pretrained=123') as info:
        FDAMMiT(pretrained=123)
    assert isinstance(info.value, UserError)
    with pytest.raises(AssertionError, match='out_indices'):
        FDAMMiT(embed_dims=8, out_indices=(0, 4))
    partial = dict(embed_dims=32, num_heads=[1, 2, 5, 8], out_indices=(0, 1, 2, 3))
    mmseg = MixVisionTransformer(**partial).eval()
    for fdam_on in (False, True):
        ours = FDAMMiT(**partial, **(dict(freq_scale_cfg=SMALL_FREQ) if fdam_on else FDAM_OFF))
        ours.init_weights()
        ours.load_state_dict(mmseg.state_dict(), strict=not fdam_on)
        assert len(ours.layers[2][1]) == 6  # mmseg's num_layers=[3, 4, 6, 3]
        for h, w in [(224, 224), (224, 320)]:
            outs = features(ours.eval(), (h, w))
            assert [o.shape for o in outs] == [(1, c, h // s, w // s) for c, s in
                                               [(32, 4), (64, 8), (160, 16), (256, 32)]]
            if not fdam_on:
                assert_close_outputs(outs, features(mmseg, (h, w)))


@pytest.mark.parametrize('shape', [(3, 30, 30), (1, 1, 30, 30)])
def test_an_input_that_is_not_an_image_batch_names_the_expected_shape(shape):
    with pytest.raises(IndexError, match=re.escape('N x 3 x H x W') + '.*' +
                       re.escape(str(shape))) as info:
        FDAMMiT(TINY, freq_scale_cfg=SMALL_FREQ)(torch.randn(shape))
    assert isinstance(info.value, UserError)


def test_patch_sr_norm_eps_gives_the_nvlabs_release_norms():
    """NVlabs' mix_transformer.py: nn.LayerNorm(dim) (eps 1e-5) after the patch
    embedding and the spatial reduction, eps 1e-6 in the blocks and stages."""
    torch.manual_seed(0)
    release = FDAMMiT(TINY, patch_sr_norm_eps=1e-5, **FDAM_OFF).eval()
    randomise_(release)
    x = torch.randn(1, 3, 64, 96)
    x[..., 48:] = 0
    embed = release.layers[0][0]
    tokens = embed.projection(x).flatten(2).transpose(1, 2)
    by_hand = F.layer_norm(tokens, tokens.shape[-1:], embed.norm.weight, embed.norm.bias, 1e-5)
    torch.testing.assert_close(embed(x)[0], by_hand, rtol=0, atol=0)
    mmseg_eps = FDAMMiT(TINY, **FDAM_OFF).eval()
    mmseg_eps.load_state_dict(release.state_dict())
    nvlabs = FDAMMiT(TINY, **FDAM_OFF).eval()
    nvlabs.load_state_dict(release.state_dict())
    changed = [name for name, m in nvlabs.named_modules()
               if re.fullmatch(r'layers\.\d\.(0\.norm|1\.\d\.attn\.norm)', name)]
    assert len(changed) == 4 + 4  # a patch embedding per stage, sr in the 4 blocks of stages 1-3
    for name in changed:
        nvlabs.get_submodule(name).eps = 1e-5
    with torch.no_grad():
        got, expected, default = release(x), nvlabs(x), mmseg_eps(x)
    assert_close_outputs(got, expected, tol=0)
    assert not torch.equal(got[0], default[0])


def test_default_initialisation_is_mmsegs():
    from mmseg.models.backbones import MixVisionTransformer

    torch.manual_seed(3)
    theirs = MixVisionTransformer(**MMSEG_B0)
    theirs.init_weights()
    torch.manual_seed(3)
    ours = FDAMMiT('b0', **FDAM_OFF)
    ours.init_weights()
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        # the same initialisers in the same order on the same random stream
        assert torch.equal(a, b), name


@pytest.mark.parametrize('arch', ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'])
def test_arch_zoo_is_mmsegs_segformer_configs(arch):
    from mmengine.config import Config

    folder = mmseg_folder() / 'configs' / 'segformer'
    theirs = Config.fromfile(folder / f'segformer_mit-{arch}_8xb2-160k_ade20k-512x512.py')
    backbone = theirs.model.backbone
    assert FDAMMiT.arch_zoo[arch] == {k: backbone[k] for k in MMSEG_B0}
    ours = inspect.signature(FDAMMiT).parameters
    for key in ('in_channels', 'patch_sizes', 'sr_ratios', 'out_indices', 'mlp_ratio',
                'qkv_bias'):
        theirs_value, default = backbone[key], ours[key].default
        if isinstance(default, tuple):
            theirs_value = tuple(theirs_value)
        assert theirs_value == default, key


# ------------------------------------------------------------ AttInv

def reference_attention(m: EfficientAttention, x: torch.Tensor, hw) -> torch.Tensor:
    """The efficient attention with AttInv written out: the attention matrix A
    held, AV, the high-pass ``V - AV`` with V on the query grid."""
    b, n, c = x.shape
    heads = m.num_heads
    wq, wk, wv = m.attn.in_proj_weight.chunk(3)
    bq, bk, bv = m.attn.in_proj_bias.chunk(3)
    if m.sr_ratio > 1:
        grid = F.conv2d(x.transpose(1, 2).reshape(b, c, *hw), m.sr.weight, m.sr.bias,
                        stride=m.sr_ratio)
        kv_in = F.layer_norm(grid.flatten(2).transpose(1, 2), (c,), m.norm.weight,
                             m.norm.bias, eps=1e-6)
    else:
        kv_in = x

    def split(t):  # (B, M, C) -> (B, heads, M, C / heads)
        return t.view(b, -1, heads, c // heads).transpose(1, 2)

    q, k, v = split(x @ wq.t() + bq), split(kv_in @ wk.t() + bk), split(kv_in @ wv.t() + bv)
    attn = (q @ k.transpose(-1, -2) / math.sqrt(c // heads)).softmax(-1)
    low = attn @ v
    if m.sr_ratio == 1:
        values = v  # square attention: the official V
    elif m.highpass_values == 'query':
        values = split(x @ wv.t() + bv)
    else:
        reduced = v.transpose(-1, -2).reshape(b, c, *grid.shape[-2:])
        values = F.interpolate(reduced, size=hw, mode='bilinear', align_corners=False)
        values = values.reshape(b, heads, c // heads, n).transpose(-1, -2)
    inv = m.att_inv
    feat = inv.gate_act.scale * F.relu(x) ** 2 + inv.gate_act.bias
    a = torch.tanh(feat @ inv.lowpass_gate.weight.t() + inv.lowpass_gate.bias)
    s = F.softplus(feat @ inv.highpass_gate.weight.t() + inv.highpass_gate.bias)
    gate = 2 * s ** 2 / (s ** 2 + 0.3678)
    a, gate = (g.transpose(1, 2)[..., None] for g in (a, gate))  # (B, heads, N, 1)
    g_lf = inv.lowpass_gamma.view(heads, 1, -1)
    g_hf = inv.highpass_gamma.view(heads, 1, -1)
    out = low + low * a * g_lf + (values - low) * gate * g_hf
    return m.attn.out_proj(out.transpose(1, 2).reshape(b, n, c))


@pytest.mark.parametrize('hw', [(7, 9), (12, 12), (1, 5)])
@pytest.mark.parametrize('highpass_values', ['query', 'upsampled'])
def test_att_inv_at_sr_ratio_1_is_the_official_formula(hw, highpass_values):
    """Square attention: both choices of V give the official ``V - AV``."""
    m = EfficientAttention(32, 4, sr_ratio=1, highpass_values=highpass_values).eval()
    randomise_(m)
    x = torch.randn(2, math.prod(hw), 32)
    with torch.no_grad():
        torch.testing.assert_close(m(x, hw), reference_attention(m, x, hw),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('hw,sr_ratio', [((7, 9), 2), ((16, 12), 4), ((9, 17), 8)])
@pytest.mark.parametrize('highpass_values', ['query', 'upsampled'])
def test_att_inv_with_reduced_keys_is_its_documented_formula(hw, sr_ratio, highpass_values):
    m = EfficientAttention(32, 4, sr_ratio=sr_ratio, highpass_values=highpass_values).eval()
    randomise_(m)
    x = torch.randn(2, math.prod(hw), 32)
    with torch.no_grad():
        torch.testing.assert_close(m(x, hw), reference_attention(m, x, hw),
                                   rtol=1e-5, atol=1e-5)


def test_the_two_highpass_values_differ_where_keys_are_reduced():
    """The choice matters where sr_ratio > 1 (else the test above could not tell them apart)."""
    query = EfficientAttention(32, 4, sr_ratio=2, highpass_values='query').eval()
    randomise_(query)
    upsampled = EfficientAttention(32, 4, sr_ratio=2, highpass_values='upsampled').eval()
    upsampled.load_state_dict(query.state_dict())
    x = torch.randn(1, 8 * 6, 32)
    with torch.no_grad():
        assert (query(x, (8, 6)) - upsampled(x, (8, 6))).abs().max() > 1e-2


def test_unknown_highpass_values_is_named():
    with pytest.raises(ValueError, match="highpass_values='nearest'"):
        FDAMMiT(TINY, highpass_values='nearest', freq_scale_cfg=SMALL_FREQ)


# ------------------------------------------------------------ the FDAM network

@pytest.mark.parametrize('highpass_values', ['query', 'upsampled'])
def test_gradients_reach_every_parameter(highpass_values):
    model = FDAMMiT(TINY, freq_scale_cfg=SMALL_FREQ, highpass_values=highpass_values).train()
    randomise_(model, std=0.1)
    outs = model(torch.randn(2, 3, 64, 48))
    sum(o.square().mean() for o in outs).backward()
    names = [name for name, p in model.named_parameters()
             if p.grad is None or not p.grad.abs().sum() > 0]
    assert not names
    fdam_blocks = {re.match(r'layers\.\d\.1\.\d+\.(attn\.att_inv|attn_freq_scale|ffn_freq_scale)',
                            n)[0] for n, _ in model.named_parameters() if 'att_inv' in n or
                   'freq_scale' in n}
    assert len(fdam_blocks) == 3 * sum(TINY['num_layers'])


def test_activation_checkpointing_gives_the_same_outputs_and_gradients():
    grads = []
    for with_cp in (False, True):
        model = FDAMMiT(TINY, freq_scale_cfg=SMALL_FREQ, with_cp=with_cp).train()
        randomise_(model, std=0.1)
        torch.manual_seed(0)
        outs = model(torch.randn(1, 3, 32, 40))
        sum(o.square().mean() for o in outs).backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def test_freq_scale_defaults_are_fdams_trained_ones_as_in_fdam_deit3():
    """16 groups, 4 filters, basis 14, router 0.0625 C: at MiT-B0's 32 channels
    that is 2 channels per group and a router 2 wide."""
    model = FDAMMiT('b0')
    vit = FDAMDeiT3(dict(embed_dims=32, num_layers=1, num_heads=1, feedforward_channels=32))
    for ours, theirs in [(model.layers[0][1][0].attn_freq_scale, vit.layers[0].attn_freq_scale),
                         (model.layers[0][1][1].ffn_freq_scale, vit.layers[0].ffn_freq_scale)]:
        assert ours.basis.shape == theirs.basis.shape == (4, 2, 14, 8)
        assert ours.router[0].weight.shape == theirs.router[0].weight.shape == (2, 32)
        assert ours.groups == theirs.groups == 16
    outs = features(model.eval(), (61, 45))
    assert [o.shape[1] for o in outs] == [32, 64, 160, 256]


def test_fdam_on_adds_only_fdam_parameters():
    plain = FDAMMiT('b0', **FDAM_OFF).state_dict()
    fdam = FDAMMiT('b0').state_dict()
    assert set(plain) < set(fdam)
    new = set(fdam) - set(plain)
    assert all(re.search(r'\.(att_inv|attn_freq_scale|ffn_freq_scale)\.', k) for k in new)
    # every block of every stage has AttInv and both FreqScales
    blocks = {re.match(r'layers\.\d\.1\.\d+', k)[0] for k in new}
    assert len(blocks) == 8


@pytest.mark.parametrize('out_indices,frozen', [((3, ), -1), ((0, 2), 0), ((-1, ), 2)])
def test_out_indices_and_frozen_stages(out_indices, frozen):
    model = FDAMMiT(TINY, freq_scale_cfg=SMALL_FREQ, out_indices=out_indices,
                    frozen_stages=frozen).train()
    outs = features(model, (32, 32))
    widths = [8, 16, 16, 32]
    assert [o.shape[1] for o in outs] == [widths[i] for i in out_indices]
    frozen_names = {n for n, p in model.named_parameters() if not p.requires_grad}
    prefixes = ['layers.0.0.'] + [f'layers.{i}.' for i in range(max(frozen, 0))]
    expected = {n for n, _ in model.named_parameters() if frozen >= 0 and n.startswith(
        tuple(prefixes))}
    assert frozen_names == expected


def test_block_compiles_without_graph_breaks():
    """A block with reduced keys and both FDAM parts in one graph (the
    whole backbone at two sizes: the slow test below)."""
    block = FDAMMiTBlock(16, 2, 32, sr_ratio=2, freq_scale_cfg=SMALL_FREQ).eval()
    randomise_(block, std=0.1)
    assert_compiles_like_eager(block, [(torch.randn(2, 7 * 9, 16), (7, 9))])


@pytest.mark.slow  # dynamo traces every stage, then again with symbolic sizes
def test_backbone_compiles_without_graph_breaks():
    model = FDAMMiT(COMPILE_ARCH, freq_scale_cfg=SMALL_FREQ).eval()
    randomise_(model, std=0.1)
    assert_compiles_like_eager(model, [(torch.randn(2, 3, 64, 48),), (torch.randn(2, 3, 45, 70),)])


@pytest.mark.slow  # AOT autograd tracing of forward and backward
def test_backbone_trains_compiled_like_eager():
    """Training crops have one size: one compilation."""
    model = FDAMMiT(COMPILE_ARCH, freq_scale_cfg=SMALL_FREQ).train()
    randomise_(model, std=0.1)
    assert_compiles_like_eager(model, [(torch.randn(2, 3, 64, 48),)], backend='aot_eager',
                               backward=True, max_compilations=1)


# ------------------------------------------------------------ weights

def test_nvlabs_release_loads_and_equals_mmseg_on_its_own_conversion(tmp_path):
    release, container = release_tensors('mit_b0_nvlabs')
    path = save_release(release, container, tmp_path / 'mit_b0.pth')
    ours = loaded(path, arch='b0', **FDAM_OFF)
    own = ours.state_dict()
    assert torch.equal(own['layers.0.1.0.attn.attn.in_proj_weight'][:32],
                       release['block1.0.attn.q.weight'])
    assert torch.equal(own['layers.3.1.1.attn.attn.in_proj_bias'][256:],
                       release['block4.1.attn.kv.bias'])
    assert torch.equal(own['layers.2.1.0.ffn.layers.4.weight'][:, :, 0, 0],
                       release['block3.0.mlp.fc2.weight'])
    assert torch.equal(own['layers.1.0.projection.weight'], release['patch_embed2.proj.weight'])
    assert torch.equal(own['layers.2.2.bias'], release['norm3.bias'])
    from mmseg.models.backbones import MixVisionTransformer
    theirs = MixVisionTransformer(**MMSEG_B0).eval()
    theirs.load_state_dict(mit2mmseg()(release))  # strict
    assert_close_outputs(features(ours, (70, 93)), features(theirs, (70, 93)))


def test_nvlabs_release_into_fdam_lists_only_fdam_parameters_as_new(tmp_path):
    release, container = release_tensors('mit_b0_nvlabs')
    path = save_release(release, container, tmp_path / 'mit_b0.pth')
    torch.manual_seed(0)
    model = FDAMMiT('b0').eval()
    new = load_pretrained_weights(model, str(path))
    plain = loaded(path, arch='b0', **FDAM_OFF)
    assert sorted(new) == sorted(set(model.state_dict()) - set(plain.state_dict()))
    # gammas and bases start at 1e-5: FDAM starts as the pre-trained encoder
    assert_close_outputs(features(model), features(plain), tol=1e-3)


def test_mmseg_layout_and_segmentor_checkpoints_load(tmp_path, mmseg_b0):
    expected = features(mmseg_b0)
    path = tmp_path / 'mit_b0_20220624-7e0fe6dd.pth'
    torch.save(mmseg_b0.state_dict(), path)  # mit2mmseg.py writes a bare state dict
    assert_close_outputs(features(loaded(path, arch='b0', **FDAM_OFF)), expected)
    whole = {f'backbone.{k}': v for k, v in mmseg_b0.state_dict().items()}
    whole['decode_head.linear_fuse.conv.weight'] = torch.zeros(256, 1024, 1, 1)
    path = tmp_path / 'segformer_mit-b0_iter_160000.pth'
    torch.save({'meta': {'iter': 160000}, 'state_dict': whole}, path)
    assert_close_outputs(features(loaded(path, arch='b0', **FDAM_OFF)), expected)
    # an FDAM model's own file round-trips, FDAM parameters included
    fdam = FDAMMiT(TINY, freq_scale_cfg=SMALL_FREQ).eval()
    randomise_(fdam, std=0.1)
    path = tmp_path / 'fdam_mit_tiny.pth'
    torch.save({'state_dict': fdam.state_dict()}, path)
    assert_close_outputs(features(loaded(path, arch=TINY, freq_scale_cfg=SMALL_FREQ)),
                         features(fdam), tol=0)


def refused(path, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        loaded(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and '\n' not in message
    return message


def test_weights_of_another_size_are_refused(tmp_path):
    b1 = tmp_path / 'mit_b1_mmseg.pth'
    torch.save(mmseg_mit(FDAMMiT.arch_zoo['b1']).state_dict(), b1)
    message = refused(b1, arch='b0', **FDAM_OFF)
    assert "read as mmseg's MixVisionTransformer" in message
    assert 'layers.0.0.projection.weight (64, 3, 7, 7) in the file, (32, 3, 7, 7) in the model' \
        in message

    b0 = save_release(*release_tensors('mit_b0_nvlabs'), tmp_path / 'mit_b0.pth')
    message = refused(b0, arch='b2')
    assert 'read as official SegFormer release' in message
    assert re.search(r'missing keys: layers\.0\.1\.2\.', message), message


@pytest.mark.parametrize('fixture,first_key', [('deit3_base_official', 'blocks.0.'),
                                               ('resnet50_torchvision', 'bn1.')])
def test_a_file_in_neither_layout_is_refused(tmp_path, fixture, first_key):
    release, container = release_tensors(fixture, keep=lambda k: not k.startswith(
        tuple(f'blocks.{i}.' for i in range(1, 12))))
    path = save_release(release, container, tmp_path / f'{fixture}.pth')
    message = refused(path, arch='b0')
    assert f'{path} is not a FDAMMiT checkpoint' in message
    assert 'official SegFormer release' in message and "mmseg's MixVisionTransformer" in message
    assert f'first keys: {first_key}' in message


# ------------------------------------------------------------ configs

def without_scope(entry):
    """A config entry as plain dicts and lists, without the ``_scope_`` keys
    that reading a config on ``mmseg::`` bases adds."""
    if isinstance(entry, dict):
        return {k: without_scope(v) for k, v in entry.items() if k != '_scope_'}
    if isinstance(entry, (list, tuple)):
        return type(entry)(without_scope(v) for v in entry)
    return entry


SEGFORMER = {f'b{i}': f'segformer_mit-b{i}_8xb2-160k_ade20k-512x512.py' for i in range(3)}


@pytest.mark.parametrize('arch', ['b0', 'b1', 'b2'])
@pytest.mark.parametrize('fdam', [False, True])
def test_ade20k_config_is_mmsegs_row_with_fdam_switched(arch, fdam):
    """The schedule, data and optimizer of mmseg's row; its backbone's names and
    shapes with FDAM off (FDAM on: those plus FDAM's, FreqScale at lr x 2)."""
    from mmengine.config import Config

    from mmfreq.apis import build_model_from_config

    name = f'segformer_mit_{arch}{"_fdam" if fdam else ""}.py'
    cfg = read_config(ROOT / 'configs' / name)
    theirs = Config.fromfile(mmseg_folder() / 'configs' / 'segformer' / SEGFORMER[arch])
    for key in ('train_cfg', 'param_scheduler', 'train_dataloader', 'val_dataloader'):
        assert without_scope(cfg[key]) == theirs[key], key
    optim_wrapper = without_scope(theirs.optim_wrapper)
    if fdam:
        optim_wrapper['paramwise_cfg']['custom_keys']['freq_scale'] = dict(lr_mult=2.0)
    assert without_scope(cfg.optim_wrapper) == optim_wrapper
    assert cfg.model.decode_head == theirs.model.decode_head
    # mmseg's backbone entry with its type swapped: every argument as mmseg gives it
    assert without_scope(cfg.model.backbone) == dict(
        without_scope(theirs.model.backbone), type='mmfreq.FDAMMiT', att_inv=fdam,
        freq_scale=fdam)

    backbone = build_model_from_config(cfg).backbone
    assert type(backbone) is FDAMMiT
    reference = FDAMMiT(arch, **FDAM_OFF)
    shapes = {k: v.shape for k, v in backbone.state_dict().items()}
    plain = {k: v for k, v in shapes.items() if k in reference.state_dict()}
    assert plain == {k: v.shape for k, v in reference.state_dict().items()}
    assert (len(plain) < len(shapes)) == fdam
    rates = [getattr(b.drop_path, 'drop_prob', 0.0) for _, blocks, _ in backbone.layers
             for b in blocks]
    depth = sum(FDAMMiT.arch_zoo[arch]['num_layers'])
    assert rates == pytest.approx(
        torch.linspace(0, theirs.model.backbone.drop_path_rate, depth).tolist())


@pytest.mark.slow  # a subprocess training and testing run
def test_fdam_synthetic_config_trains_and_tests(synthetic_root, tmp_path):
    config = ROOT / 'configs' / 'segformer_mit_b0_fdam_synthetic.py'
    work_dir = tmp_path / 'work'
    options = ['--cfg-options', *small_run_options(synthetic_root, 2, 2)]
    train = run_tool(['tools/train.py', config, '--work-dir', work_dir, *options])
    output = train.stdout + train.stderr
    assert train.returncode == 0, output[-3000:]
    assert 'model built: EncoderDecoder, backbone FDAMMiT, 6 classes' in output
    test = run_tool(['tools/test.py', config, work_dir / 'iter_2.pth', '--work-dir', work_dir,
                     *options])
    assert test.returncode == 0, (test.stdout + test.stderr)[-3000:]
    assert re.search(r'mIoU: \d+\.\d+', test.stdout + test.stderr)


@pytest.mark.slow  # tracing a whole segmentor
def test_exports_to_onnx_like_fdam_deit3(tmp_path):
    pytest.importorskip('onnxruntime')
    from mmfreq.deployment.onnx import build_exportable, check_export, export_onnx

    module, _ = build_exportable(str(ROOT / 'configs' / 'segformer_mit_b0_fdam_synthetic.py'))
    out = str(tmp_path / 'segformer_fdam.onnx')
    constants = export_onnx(module, (64, 96), out)
    check_export(module, out, (64, 96), dynamic=False, tolerance=1e-4,
                 traced_constants=constants)
