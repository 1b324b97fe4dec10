"""FreqScale's transforms and cached constants, and the benchmark rows of FDAM's layers."""
import math

import pytest
import torch

from mmfreq.analysis.backbone_benchmarks import (
    FAMILIES,
    LAYER_USES_PER_PASS,
    Row,
    build_fdam_layers,
    fdam_layer_flops,
)
from mmfreq.analysis.benchmark_tables import render_tables
from mmfreq.models.layers import FreqScale
from mmfreq.reference import fft_freq_scale
from mmfreq.testing.activation_checkpointing import saved_tensor_bytes


def _random_freq_scale(channels: int) -> FreqScale:
    torch.manual_seed(0)
    m = FreqScale(channels)  # FDAM's trained setting: 16 groups, 4 filters, basis 14
    with torch.no_grad():
        for p in m.parameters():
            p.normal_()
    return m


def _assert_equals_official(m: FreqScale, x: torch.Tensor) -> None:
    """Output and gradients (input, basis, router) against the FDAM code's steps."""
    x = x.detach().requires_grad_()
    out = m(x.permute(0, 2, 3, 1))
    expected = fft_freq_scale(m, x)
    torch.testing.assert_close(out, expected.permute(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    params = [x, m.basis, m.router[0].weight, m.router[2].weight]
    fast = torch.autograd.grad(out, params, grad)
    slow = torch.autograd.grad(expected, params, grad.permute(0, 3, 1, 2))
    for a, b in zip(fast, slow):  # sums over the whole grid: fp32 rounding of the largest
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6 * b.abs().max().item())


@pytest.mark.parametrize('size', [(32, 32), (33, 33), (16, 31), (40, 12)])
def test_trained_setting_equals_the_official_formula_on_both_sides_of_the_switch(size):
    """At FDAM's trained setting, on grids at and past ``matrix_dft_max_side``:
    the basis is mixed before resizing on the matrix path and after it on the
    FFT path; both orders must give the official result."""
    assert FreqScale.matrix_dft_max_side == 32
    torch.manual_seed(1)
    _assert_equals_official(_random_freq_scale(32), torch.randn(2, 32, *size))


def test_cached_matrices_made_in_inference_mode_serve_training():
    """The DFT and interpolation matrices are cached by size; the first call at a
    size under ``torch.inference_mode`` must not leave inference tensors that
    autograd would refuse to save later."""
    m = _random_freq_scale(16 * 2)
    torch.manual_seed(2)
    for size in [(23, 29), (71, 45)]:  # sizes no other test uses: the cache starts empty
        x = torch.randn(1, 32, *size)
        with torch.inference_mode():
            first = m(x.permute(0, 2, 3, 1))
        torch.testing.assert_close(first, fft_freq_scale(m, x).permute(0, 2, 3, 1),
                                   rtol=1e-5, atol=1e-5)
        _assert_equals_official(m, x)


@pytest.mark.parametrize('size', [(32, 32), (48, 40)])
def test_backward_keeps_the_spectrum_and_no_other_map(size):
    """On both paths backward keeps the half spectrum (1.03-1.06 maps), the small
    filters and cached constants; autograd kept also the full filters (0.5 map)
    and a channels-first copy (1 map), 2.7-3.5 maps in all."""
    m = _random_freq_scale(64)
    x = torch.randn(2, *size, 64, requires_grad=True)
    _, saved = saved_tensor_bytes(lambda: m(x))
    map_bytes = x.numel() * x.element_size()
    assert saved < 1.5 * map_bytes, f'{saved / map_bytes:.2f} maps'


def test_layer_rows_time_each_layer_on_its_hosts_grids():
    family = FAMILIES['fdam_layers']
    assert [r.size[0] for r in family.rows_for('mit_b0') if r.mode == 'inference'] == \
        [128, 64, 32, 16]
    assert family.shape('deit3_b', Row('training_step', (32, 32), 2)) == (2, 768, 32, 32)
    x = torch.randn(1, 160, 32, 32)
    pair = build_fdam_layers('mit_b0', 'reference', (32, 32))
    freq_scale = build_fdam_layers('mit_b0', 'freq_scale', (32, 32))
    att_inv = build_fdam_layers('mit_b0', 'att_inv', (32, 32))
    with torch.no_grad():
        outs = [model(x) for model in (pair, freq_scale, att_inv)]
    assert all(len(o) == LAYER_USES_PER_PASS for o in outs)
    torch.testing.assert_close(outs[0][0], x, rtol=1e-5, atol=1e-5)  # the pair is the identity
    # FreqScale reads the same memory as a channels-last map, AttInv as 5 heads
    torch.testing.assert_close(outs[1][0], freq_scale.freq_scale(x.view(1, 32, 32, 160)))
    assert outs[2][0].shape == (1, 5, 32 * 32, 32)
    with pytest.raises(KeyError, match='deit_s'):
        family.rows_for('mit_b1')


def test_layer_flops_and_table_per_use():
    flops = fdam_layer_flops(384, 6, 32, 32)
    assert flops['reference'] == round(5 * 384 * 1024 * math.log2(1024))
    # what FreqScale adds to the pair: filters, their product and the router, a few %
    assert 1.0 < flops['freq_scale'] / flops['reference'] < 1.3
    line = dict(family='fdam_layers', arch='deit_s', mode='inference', shape=[1, 384, 32, 32],
                results={'reference': dict(latency_ms=20.0, peak_mb=1.0),
                         'freq_scale': dict(latency_ms=30.0, peak_mb=1.0),
                         'att_inv': dict(latency_ms=5.0, peak_mb=1.0)},
                uses_per_pass=10, host_uses={'freq_scale': 24, 'att_inv': 12}, flops=flops,
                device='cpu', time='2026-12-07T10:00:00', run='2026-12-07T10:00:00')
    tables = render_tables([line])
    assert ('| DeiT-S, 32x32x384, inference (batch 1) | 2.00 | 3.00 | 1.50 | 0.50 | 0.25 | '
            '19.7, ') in tables
    assert '| 24, 12 | [1] |' in tables
