"""FDAM: AttInv and FreqScale layers, the FDAM-DeiT3 backbone and the FDAM neck."""
import json
import math
import re

import pytest
import torch
import torch.nn.functional as F

from mmfreq.models import FDAMDeiT3, FDAMNeck, convert_deit3_state_dict
from mmfreq.models.layers import AttInv, AttInvAttention, FreqScale, add_freq_scale
from mmfreq.reference import ExplicitFDAMDeiT3, fft_freq_scale
from mmfreq.testing.activation_checkpointing import (
    assert_checkpointing_is_exact_and_smaller,
    saved_tensor_bytes,
)
from mmfreq.testing.compile import assert_compiles_like_eager
from mmfreq.testing.fixtures import KEY_FIXTURES, release_tensors
from mmfreq.testing.messages import line_with

TINY = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128)
SMALL_FREQ = dict(groups=4, num_filters=2, basis_size=6)


def reference_attention(m: AttInvAttention, x: torch.Tensor) -> torch.Tensor:
    """The formulas written out, with the N x N attention materialised."""
    b, n, c = x.shape
    heads = m.num_heads
    q, k, v = m.qkv(x).view(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-1, -2) / math.sqrt(c // heads)).softmax(-1)
    lowpass = attn @ v
    out = lowpass
    if m.att_inv is not None:
        inv = m.att_inv
        feat = inv.gate_act.scale * F.relu(x) ** 2 + inv.gate_act.bias
        a = torch.tanh(feat @ inv.lowpass_gate.weight.t() + inv.lowpass_gate.bias)
        s = F.softplus(feat @ inv.highpass_gate.weight.t() + inv.highpass_gate.bias)
        bgate = 2 * s**2 / (s**2 + 0.3678)
        # (B, N, heads) gates act on every channel of their head.
        a = a.repeat_interleave(c // heads, -1)
        bgate = bgate.repeat_interleave(c // heads, -1)
        low = lowpass.transpose(1, 2).reshape(b, n, c)
        high = v.transpose(1, 2).reshape(b, n, c) - low
        out = low + low * a * inv.lowpass_gamma + high * bgate * inv.highpass_gamma
        return m.proj(out)
    return m.proj(out.transpose(1, 2).reshape(b, n, c))


def randomise_(module: torch.nn.Module) -> None:
    """Move every parameter off its initial value so that each term matters."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


@pytest.mark.parametrize('tokens', [1, 7, 50, 197])
@pytest.mark.parametrize('att_inv', [True, False])
def test_att_inv_fast_equals_reference(tokens, att_inv):
    m = AttInvAttention(64, 4, att_inv=att_inv).eval()
    randomise_(m)
    x = torch.randn(2, tokens, 64)
    with torch.no_grad():
        torch.testing.assert_close(m(x), reference_attention(m, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('lowpass, highpass', [(True, True), (True, False), (False, True)])
def test_att_inv_terms_equal_the_formula(lowpass, highpass):
    """Each term alone and both, with window-like leading dims, values and gradients."""
    m = AttInv(32, 4, lowpass=lowpass, highpass=highpass)
    randomise_(m)
    x = torch.randn(2, 3, 10, 32, requires_grad=True)
    attn_out = torch.randn(2, 3, 4, 10, 8, requires_grad=True)
    value = torch.randn(2, 3, 4, 10, 8, requires_grad=True)

    def per_head(gate):  # (..., N, heads) -> (..., heads, N, 1)
        return gate.transpose(-1, -2)[..., None]

    feat = m.gate_act.scale * F.relu(x) ** 2 + m.gate_act.bias
    expected = attn_out
    if lowpass:
        a = per_head(torch.tanh(m.lowpass_gate(feat)))
        expected = expected + attn_out * a * m.lowpass_gamma.view(4, 1, 8)
    if highpass:
        s2 = F.softplus(m.highpass_gate(feat)) ** 2
        b = per_head(2 * s2 / (s2 + 0.3678))
        expected = expected + (value - attn_out) * b * m.highpass_gamma.view(4, 1, 8)
    out = m(x, attn_out, value)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    inputs = [x, attn_out, value, *m.parameters()]
    grad = torch.randn_like(out)
    for fast, slow in zip(torch.autograd.grad(out, inputs, grad, allow_unused=True),
                          torch.autograd.grad(expected, inputs, grad, allow_unused=True)):
        assert (fast is None) == (slow is None)  # value is unused without the high-pass term
        if slow is not None:
            torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-5)


def test_att_inv_keeps_no_map_but_its_inputs_for_backward():
    """Backward needs the gates' input and the attention output and values, which
    the attention keeps anyway, and the per-token gates: no full-size map of its
    own (autograd kept relu(x)^2 and two coefficient maps, 7 maps here)."""
    m = AttInv(64, 2)
    x = torch.randn(2, 100, 64, requires_grad=True)
    attn_out, value = (torch.randn(2, 2, 100, 32, requires_grad=True) for _ in range(2))
    _, saved = saved_tensor_bytes(lambda: m(x, attn_out, value))
    map_bytes = x.numel() * x.element_size()
    # three inputs, a few per-token gates of 1/32 map each, the parameters
    assert saved < 3.5 * map_bytes, f'{saved / map_bytes:.2f} maps'


def test_att_inv_starts_close_to_plain_attention():
    torch.manual_seed(0)
    with_inv = AttInvAttention(64, 4).eval()
    plain = AttInvAttention(64, 4, att_inv=False).eval()
    plain.load_state_dict(with_inv.state_dict(), strict=False)
    x = torch.randn(2, 30, 64)
    with torch.no_grad():
        diff = (with_inv(x) - plain(x)).abs().max()
    assert 0 < diff < 1e-4  # gammas start at 1e-5: active, but tiny


def test_att_inv_errors_name_the_values():
    with pytest.raises(ValueError, match='embed_dims=30.*num_heads=4'):
        AttInvAttention(30, 4)


def constant_freq_scale(channels, group_weights):
    """A FreqScale whose filter is group_weights[g] * const for every frequency."""
    m = FreqScale(channels, groups=len(group_weights), num_filters=2, basis_size=6)
    with torch.no_grad():
        m.basis.fill_(0.5)
        m.router[1].scale.zero_()
        m.router[1].bias.fill_(1.0)  # hidden units are all 1
        hidden = m.router[0].out_features
        rows = torch.tensor(group_weights).repeat_interleave(2)[:, None] / hidden
        m.router[2].weight.copy_(rows.expand(-1, hidden))
    # alpha[g, n] = tanh(group_weights[g]); filter = sum_n alpha * 0.5
    return m, torch.tanh(torch.tensor(group_weights)) * 2 * 0.5


@pytest.mark.parametrize('size', [(8, 8), (7, 9), (13, 6), (1, 5), (15, 15)])
def test_freq_scale_constant_filter_scales_each_group(size):
    m, gains = constant_freq_scale(16, [0.2, -0.7, 1.5, 0.0])
    x = torch.randn(2, *size, 16)
    with torch.no_grad():
        out = m(x)
    expected = x * gains.repeat_interleave(4)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_freq_scale_filters_frequencies():
    """A basis that is zero at DC removes the image mean and keeps the rest."""
    m, _ = constant_freq_scale(8, [3.0, 3.0])
    with torch.no_grad():
        m.basis[:, :, 0, 0] = 0.0  # the 6x4 basis is the spectrum size of a 6x6 map
        x = torch.randn(1, 6, 6, 8) + 5.0
        out = m(x)
    gain = math.tanh(3.0) * 2 * 0.5
    torch.testing.assert_close(out.mean(dim=(1, 2)), torch.zeros(1, 8), atol=1e-5, rtol=0)
    torch.testing.assert_close(out, gain * (x - x.mean(dim=(1, 2), keepdim=True)),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('max_side', [0, None, 10**4], ids=['fft', 'by-size', 'dft-matrices'])
@pytest.mark.parametrize('size', [(8, 8), (7, 9), (13, 6), (1, 5), (16, 11), (66, 5), (65, 70)])
def test_freq_scale_equals_the_official_formula(size, max_side):
    """Both transforms (torch.fft, DFT matrices) and the choice by grid size."""
    torch.manual_seed(0)
    m = FreqScale(40, groups=8, num_filters=3, basis_size=6)
    randomise_(m)
    if max_side is not None:
        m.matrix_dft_max_side = max_side
    x = torch.randn(2, 40, *size, requires_grad=True)
    expected = fft_freq_scale(m, x)
    out = m(x.permute(0, 2, 3, 1))
    torch.testing.assert_close(out, expected.permute(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    tokens = x.detach().flatten(2).transpose(1, 2).contiguous()
    torch.testing.assert_close(add_freq_scale(tokens, m, size),
                               tokens + expected.detach().flatten(2).transpose(1, 2),
                               rtol=1e-5, atol=1e-5)
    grid = x.detach().permute(0, 2, 3, 1)
    torch.testing.assert_close(add_freq_scale(grid, m),
                               grid + expected.detach().permute(0, 2, 3, 1),
                               rtol=1e-5, atol=1e-5)
    assert add_freq_scale(tokens, None, size) is tokens  # FDAM off: the tokens as they were
    grad = torch.randn_like(out)
    fast = torch.autograd.grad(out, [x, m.basis, m.router[0].weight], grad)
    slow = torch.autograd.grad(expected, [x, m.basis, m.router[0].weight],
                               grad.permute(0, 3, 1, 2))
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_freq_scale_follows_in_place_basis_updates():
    torch.manual_seed(0)
    m = FreqScale(16, groups=4, basis_size=6).eval()
    randomise_(m)
    x = torch.randn(1, 12, 10, 16)
    with torch.no_grad():
        first = m(x)
        m.basis.mul_(2)  # an in-place update, as an optimizer step does
        torch.testing.assert_close(m(x), 2 * first)
        torch.testing.assert_close(m(x), fft_freq_scale(m, x.permute(0, 3, 1, 2))
                                   .permute(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_freq_scale_runs_in_fp32_under_autocast():
    torch.manual_seed(0)
    m = FreqScale(32, groups=4)
    randomise_(m)
    x = torch.randn(2, 9, 12, 32).bfloat16()
    with torch.no_grad():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = m(x)
        reference = m(x.float())
    assert out.dtype == torch.bfloat16
    # only the final rounding to bf16 differs (a bf16 FFT would be far worse)
    torch.testing.assert_close(out.float(), reference, rtol=1e-2, atol=1e-2 * reference.abs().max())


def reference_plain_vit(model: FDAMDeiT3, x: torch.Tensor):
    """DeiT-III's forward written out from the model's weights."""
    p = model.patch_size
    x = F.pad(x, (0, -x.shape[-1] % p, 0, -x.shape[-2] % p))
    x = F.conv2d(x, model.patch_embed.proj.weight, model.patch_embed.proj.bias, stride=p)
    grid = x.shape[-2:]
    pos = model.pos_embed.reshape(1, *model.pretrain_grid, -1).permute(0, 3, 1, 2)
    pos = F.interpolate(pos, size=grid, mode='bicubic', align_corners=False)
    x = (x + pos).flatten(2).transpose(1, 2)
    outs = []
    for i, layer in enumerate(model.layers):
        y = reference_attention(layer.attn, F.layer_norm(
            x, (x.shape[-1],), layer.norm1.weight, layer.norm1.bias, 1e-6))
        x = x + layer.gamma_1 * y
        fc1, fc2 = layer.ffn.layers[0][0], layer.ffn.layers[1]
        z = F.layer_norm(x, (x.shape[-1],), layer.norm2.weight, layer.norm2.bias, 1e-6)
        x = x + layer.gamma_2 * fc2(F.gelu(fc1(z)))
        if i in model.out_indices:
            outs.append(x.transpose(1, 2).reshape(x.shape[0], -1, *grid))
    return outs


def test_fdam_off_is_exactly_a_plain_vit():
    torch.manual_seed(0)
    model = FDAMDeiT3(TINY, img_size=64, att_inv=False, freq_scale=False).eval()
    model.init_weights()
    randomise_(model)
    names = set(model.state_dict())
    assert not any('att_inv' in k or 'freq_scale' in k for k in names)
    assert {'pos_embed', 'patch_embed.proj.weight', 'layers.3.gamma_2',
            'layers.0.attn.qkv.weight', 'layers.0.ffn.layers.0.0.weight'} <= names
    x = torch.randn(2, 3, 50, 70)
    with torch.no_grad():
        for out, ref in zip(model(x), reference_plain_vit(model, x)):
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_fdam_at_initial_gammas_stays_close_to_plain_vit():
    torch.manual_seed(0)
    plain = FDAMDeiT3(TINY, img_size=64, att_inv=False, freq_scale=False).eval()
    plain.init_weights()
    fdam = FDAMDeiT3(TINY, img_size=64).eval()
    fdam.init_weights()
    fdam.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(fdam(x), plain(x)):
            assert (a - b).abs().max() < 1e-3 * b.abs().max()


def test_blocks_get_contiguous_token_major_tokens():
    # A transposed (channels-first) stream survives the residual adds and
    # makes every LayerNorm copy it: ~15% of a ViT-B forward at 512x512 on CPU.
    model = FDAMDeiT3(TINY, img_size=64, freq_scale_cfg=SMALL_FREQ).eval()
    seen = []
    for layer in model.layers:
        layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].is_contiguous()))
    with torch.no_grad():
        model(torch.randn(1, 3, 48, 80))
    assert seen == [True] * len(model.layers)


@pytest.mark.parametrize('size', [(64, 64), (100, 75), (17, 33), (8, 8), (224, 160)])
def test_backbone_and_neck_give_strides_4_8_16_32(size):
    model = FDAMDeiT3(TINY, img_size=64, freq_scale_cfg=SMALL_FREQ).eval()
    neck = FDAMNeck(64, freq_scale_cfg=SMALL_FREQ).eval()
    with torch.no_grad():
        grids = model(torch.randn(1, 3, *size))
        outs = neck(grids)
    gh, gw = (math.ceil(s / 16) for s in size)
    assert [g.shape for g in grids] == [(1, 64, gh, gw)] * 4
    expected = [(gh * 4, gw * 4), (gh * 2, gw * 2), (gh, gw),
                (math.ceil(size[0] / 32), math.ceil(size[1] / 32))]
    assert [tuple(o.shape[-2:]) for o in outs] == expected
    assert all(o.shape[:2] == (1, 64) for o in outs)


def test_neck_without_freq_scale_is_the_plain_pyramid():
    neck = FDAMNeck(16, freq_scale=False).eval()
    x = [torch.randn(1, 16, 5, 7) for _ in range(4)]
    with torch.no_grad():
        outs = neck(x)
    torch.testing.assert_close(outs[2], x[2])
    torch.testing.assert_close(outs[3], F.max_pool2d(x[3], 2, 2, ceil_mode=True))
    torch.testing.assert_close(outs[1], neck.resamplers[1](x[1]))
    assert not any('freq' in k for k in neck.state_dict())


def test_checkpointing_gives_the_same_training_step_and_saves_less():
    """with_cp=True: outputs and every gradient as without (drop path on, the
    same masks), and the blocks' activations are recomputed, not kept."""
    def build(with_cp: bool) -> FDAMDeiT3:
        torch.manual_seed(0)
        model = FDAMDeiT3(TINY, img_size=64, drop_path_rate=0.1, with_cp=with_cp,
                        freq_scale_cfg=SMALL_FREQ)
        randomise_(model)
        return model

    saved = assert_checkpointing_is_exact_and_smaller(build, (torch.randn(2, 3, 48, 40),),
                                                      max_ratio=0.5)
    assert saved[True] > 0


def official_fdam_state_dict(model: FDAMDeiT3) -> dict:
    """The model's weights under the official FDAM code's names (deit_fdam.py)."""
    renames = [('.ffn.layers.0.0.', '.mlp.fc1.'), ('.ffn.layers.1.', '.mlp.fc2.'),
               ('.att_inv.gate_act.', '.dy_freq_starrelu.'),
               ('.att_inv.lowpass_gate.', '.dy_freq_2.'), ('.att_inv.highpass_gate.', '.dy_freq.'),
               ('.att_inv.lowpass_gamma', '.lf_gamma'), ('.att_inv.highpass_gamma', '.hf_gamma'),
               ('.attn_freq_scale.', '.freq_scale_1.'), ('.ffn_freq_scale.', '.freq_scale_2.'),
               ('.router.0.', '.reweight.fc1.'), ('.router.1.', '.reweight.act.'),
               ('.router.2.', '.reweight.fc2.'), ('.basis', '.complex_weights')]
    state = {}
    for key, value in model.state_dict().items():
        for ours, theirs in renames:
            key = key.replace(ours, theirs)
        state[re.sub(r'^layers\.', 'blocks.', key)] = value.clone()
    c = model.embed_dims
    state['up1.0.weight'] = torch.zeros(c, c, 2, 2)  # the official built-in pyramid
    return state


def official_fdam_block(state: dict, prefix: str, x: torch.Tensor, hw: tuple,
                        heads: int) -> torch.Tensor:
    """One block of the official FDAM ViT, computed from the release's tensors by
    their own names: ``Layer_scale_init_Block``, ``Attention`` (AttInv) and
    ``GroupDynamicScale`` of FDAM_mmseg/mmcv_custom/deit_fdam.py
    (Linwei-Chen/FDAM@210232f), written out here from those formulas."""
    def t(name):
        return state[prefix + name]

    def star_relu(v, name):
        return t(name + '.scale') * F.relu(v) ** 2 + t(name + '.bias')

    def group_dynamic_scale(y, name):  # y (B, H*W, C) -> y + filtered y
        b, n, c = y.shape
        grid = y.transpose(1, 2).reshape(b, c, *hw)
        spectrum = torch.fft.rfft2(grid, norm='ortho')
        hidden = star_relu(F.linear(grid.mean((2, 3)), t(name + '.reweight.fc1.weight')),
                           name + '.reweight.act')
        basis = F.interpolate(t(name + '.complex_weights'), size=spectrum.shape[-2:],
                              mode='bicubic', align_corners=True)  # (filters, C / groups, h, w)
        route = torch.tanh(F.linear(hidden, t(name + '.reweight.fc2.weight')))
        route = route.view(b, -1, basis.shape[0], 1, 1, 1)  # (B, groups, filters)
        weight = (route * basis).sum(2).reshape(b, c, *spectrum.shape[-2:])
        filtered = torch.fft.irfft2(torch.complex(spectrum.real * weight,
                                                  spectrum.imag * weight), s=hw, norm='ortho')
        return y + filtered.flatten(2).transpose(1, 2)

    def attention(y):
        b, n, c = y.shape
        feat = star_relu(y, 'attn.dy_freq_starrelu')
        lowpass = torch.tanh(F.linear(feat, t('attn.dy_freq_2.weight'), t('attn.dy_freq_2.bias')))
        s2 = F.softplus(F.linear(feat, t('attn.dy_freq.weight'), t('attn.dy_freq.bias'))) ** 2
        highpass = 2 * s2 / (s2 + 0.3678)
        q, k, v = F.linear(y, t('attn.qkv.weight'), t('attn.qkv.bias')).view(
            b, n, 3, heads, c // heads).unbind(2)  # (B, N, heads, d)
        weights = torch.einsum('bnhd,bmhd->bhnm', q, k).mul(q.shape[-1] ** -0.5).softmax(-1)
        low = torch.einsum('bhnm,bmhd->bnhd', weights, v)
        out = (low + low * lowpass[..., None] * t('attn.lf_gamma').view(heads, -1)
               + (v - low) * highpass[..., None] * t('attn.hf_gamma').view(heads, -1))
        return F.linear(out.reshape(b, n, c), t('attn.proj.weight'), t('attn.proj.bias'))

    c = x.shape[-1]
    y = F.layer_norm(x, (c,), t('norm1.weight'), t('norm1.bias'), eps=1e-6)
    x = x + t('gamma_1') * group_dynamic_scale(attention(y), 'freq_scale_1')
    z = F.layer_norm(x, (c,), t('norm2.weight'), t('norm2.bias'), eps=1e-6)
    z = F.linear(F.gelu(F.linear(z, t('mlp.fc1.weight'), t('mlp.fc1.bias'))),
                 t('mlp.fc2.weight'), t('mlp.fc2.bias'))
    return x + t('gamma_2') * group_dynamic_scale(z, 'freq_scale_2')


def test_official_fdam_release_converts_to_the_official_block():
    """The release's keys (tests/data/official_keys, dumped from the official
    code) convert onto FDAMDeiT3-B exactly, and a converted block computes what
    the official block computes with those tensors under their own names:
    swapping the low-pass and high-pass gates (``dy_freq_2`` / ``dy_freq``),
    the two FreqScales or the two layer scales changes the output."""
    fixture = json.loads((KEY_FIXTURES / 'fdam_deit3_base_official.json').read_text())['tensors']
    meta = {k[len('backbone.'):]: torch.empty(shape, device='meta')
            for k, (shape, _) in fixture.items()}
    with torch.device('meta'):
        model = FDAMDeiT3('base', img_size=512)
    converted = convert_deit3_state_dict(meta, (32, 32))
    assert {k: tuple(v.shape) for k, v in converted.items()} == \
        {k: tuple(v.shape) for k, v in model.state_dict().items()}

    blocks = (0, 11)
    state, _ = release_tensors('fdam_deit3_base_official',
                               keep=lambda k: k.split('.')[1:3] in (['blocks', str(i)]
                                                                    for i in blocks))
    state = {k[len('backbone.'):]: v for k, v in state.items()}
    converted = convert_deit3_state_dict(state)
    one_block = FDAMDeiT3(dict(embed_dims=768, num_layers=1, num_heads=12,
                             feedforward_channels=3072), out_indices=(0, )).layers[0].eval()
    hw = (3, 5)
    torch.manual_seed(0)
    x = torch.randn(2, hw[0] * hw[1], 768)
    for i in blocks:
        prefix = f'layers.{i}.'
        one_block.load_state_dict({k[len(prefix):]: v for k, v in converted.items()
                                   if k.startswith(prefix)}, strict=True)
        with torch.no_grad():
            expected = official_fdam_block(state, f'blocks.{i}.', x, hw, heads=12)
            torch.testing.assert_close(one_block(x, hw), expected, rtol=1e-4,
                                       atol=1e-5 * expected.abs().max().item())


def test_deit3_checkpoint_loads_and_reports_the_new_fdam_keys(tmp_path, caplog):
    torch.manual_seed(0)
    plain = FDAMDeiT3(TINY, img_size=64, att_inv=False, freq_scale=False)
    official = official_fdam_state_dict(plain)
    # DeiT-III (timm) extras: a class token and its pos_embed slot, the head.
    official['cls_token'] = torch.zeros(1, 1, 64)
    official['pos_embed'] = torch.cat([torch.zeros(1, 1, 64), official['pos_embed']], 1)
    official['head.weight'] = torch.zeros(1000, 64)
    del official['up1.0.weight']
    path = tmp_path / 'deit3_tiny.pth'
    torch.save({'model': official}, path)
    model = FDAMDeiT3(TINY, img_size=64, freq_scale_cfg=SMALL_FREQ,
                    init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    torch.testing.assert_close(model.layers[2].attn.qkv.weight, plain.layers[2].attn.qkv.weight)
    torch.testing.assert_close(model.pos_embed, plain.pos_embed)


def test_checkpoint_of_another_arch_names_the_keys(tmp_path):
    from mmfreq.models import VAN
    path = tmp_path / 'van_b0.pth'
    torch.save({'state_dict': VAN('b0').state_dict()}, path)
    model = FDAMDeiT3(TINY, img_size=64, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    # the file, the model it does not fit, and its keys
    with pytest.raises(ValueError, match=r'van_b0\.pth.*FDAMDeiT3.*stages\.0'):
        model.init_weights()


def test_unknown_arch_lists_the_choices():
    with pytest.raises(ValueError, match="'huge'.*base"):
        FDAMDeiT3('huge')


@pytest.mark.slow  # a subprocess run of the tool
def test_deit2mmfreq_converts_and_refuses_another_arch(tmp_path):
    from mmfreq.testing.tools import run_tool
    small = FDAMDeiT3('small', att_inv=False, freq_scale=False)
    official = official_fdam_state_dict(small)
    del official['up1.0.weight']
    official['cls_token'] = torch.zeros(1, 1, 384)
    official['pos_embed'] = torch.cat([torch.zeros(1, 1, 384), official['pos_embed']], 1)
    src = tmp_path / 'deit_3_small_224.pth'
    torch.save({'model': official}, src)
    dst = tmp_path / 'deit3_small_mmfreq.pth'
    result = run_tool(['tools/model_converters/deit2mmfreq.py', src, dst, '--arch', 'small',
                       '--img-size', '320'])
    assert result.returncode == 0, result.stderr[-2000:]
    assert line_with(result.stdout, str(dst), 'new, starting fresh', 'att_inv'), \
        result.stdout[-2000:]
    model = FDAMDeiT3('small', img_size=320, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    model.init_weights()
    assert model.pos_embed.shape == (1, 20 * 20, 384)  # resized from 14x14
    torch.testing.assert_close(model.layers[5].attn.qkv.weight, small.layers[5].attn.qkv.weight)
    wrong = run_tool(['tools/model_converters/deit2mmfreq.py', src, dst, '--arch', 'base'])
    assert wrong.returncode != 0
    assert line_with(wrong.stderr, 'FDAMDeiT3', '(768,)'), wrong.stderr[-2000:]


def test_fdam_vit_equals_the_official_formulation():
    """Forward and gradients against the official code's AttInv and FreqScale
    (materialised attention, rfft2 of the transposed tokens, stacked real and
    imaginary parts), on every FDAM parameter moved off its initial value."""
    torch.manual_seed(0)
    model = FDAMDeiT3(TINY, img_size=64, freq_scale_cfg=SMALL_FREQ)
    randomise_(model)
    official = ExplicitFDAMDeiT3(TINY, img_size=64, freq_scale_cfg=SMALL_FREQ)
    official.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 40, 56)
    outs, expected = model(x), official(x)
    for a, b in zip(outs, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * b.abs().max().item())
    grad = [torch.randn_like(o) for o in outs]
    params = [p for _, p in sorted(model.named_parameters())]
    official_params = [p for _, p in sorted(official.named_parameters())]
    for a, b in zip(torch.autograd.grad(outs, params, grad),
                    torch.autograd.grad(expected, official_params, grad)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


def compile_test_vit() -> FDAMDeiT3:
    torch.manual_seed(0)
    model = FDAMDeiT3(dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64),
                    img_size=64, out_indices=(0,), freq_scale_cfg=SMALL_FREQ)
    randomise_(model)
    return model


def compile_test_neck() -> FDAMNeck:
    torch.manual_seed(0)
    neck = FDAMNeck(32, scales=(4, 0.5), freq_scale_cfg=SMALL_FREQ).train()
    randomise_(neck)
    return neck


def neck_inputs(h: int, w: int) -> tuple:
    return ([torch.randn(2, 32, h, w) for _ in range(2)],)


@pytest.mark.slow  # AOT autograd tracing of forward and backward: about a minute
def test_fdam_vit_and_neck_compile_without_graph_breaks_and_train_like_eager():
    assert_compiles_like_eager(compile_test_vit(), [(torch.randn(2, 3, 48, 64),),
                                                    (torch.randn(2, 3, 80, 40),)],
                               backend='aot_eager', backward=True)
    assert_compiles_like_eager(compile_test_neck(), [neck_inputs(5, 7), neck_inputs(8, 6)],
                               backend='aot_eager', backward=True)


@pytest.mark.parametrize('registry, type_name', [
    ('mmfreq', 'mmfreq.FDAMViT'), ('mmfreq', 'FDAMViT'), ('mmengine', 'mmfreq.FDAMViT'),
    ('mmseg', 'mmfreq.FDAMViT')])
def test_the_old_type_name_fdamvit_names_the_new_one(registry, type_name):
    """FDAMDeiT3 was FDAMViT: a config with the old type, built through any
    registry, stops with one line naming the new type (a UserError and the
    KeyError of an unknown type)."""
    import importlib

    from mmengine.registry import DefaultScope

    from mmfreq.errors import UserError

    models = importlib.import_module(f'{registry}.registry').MODELS
    # a registry builds in the process-wide default scope: make it the registry's own
    with DefaultScope.overwrite_default_scope(registry), pytest.raises(
            UserError, match=r"^type='mmfreq\.FDAMViT' was renamed: use "
                             r"type='mmfreq\.FDAMDeiT3'") as info:
        models.build(dict(type=type_name, arch='small'))
    assert isinstance(info.value, KeyError) and '\n' not in str(info.value)


def test_the_old_type_name_ends_a_tool_in_one_error_line(capsys):
    from mmfreq.cli.errors import exit_on_error
    from mmfreq.registry import MODELS

    with pytest.raises(SystemExit) as exit_info:
        with exit_on_error():
            MODELS.build(dict(type='mmfreq.FDAMViT'))
    assert exit_info.value.code == ("error: type='mmfreq.FDAMViT' was renamed: use "
                                    "type='mmfreq.FDAMDeiT3' (the same arguments, parameters "
                                    'and checkpoints)')
    assert capsys.readouterr().err == ''
