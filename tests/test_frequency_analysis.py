"""The frequency diagnostics measure what their names say, on the token
grids of every block of FDAM-DeiT3, mmseg's ViT (class token) and the Mix
Transformer (one grid per stage)."""
import math
import sys

import pytest
import torch

from mmfreq.analysis import band_energy, effective_rank, layer_statistics, mean_abs_cosine
from mmfreq.analysis.frequency import STATISTICS, block_grids, block_statistics
from mmfreq.models import VAN, FDAMDeiT3, FDAMMiT, FDAMVisionTransformer
from mmfreq.testing.tools import ROOT, load_script

TOOL = 'tools/analysis_tools/frequency_analysis.py'
SMALL_FREQ = dict(groups=4, num_filters=2, basis_size=6, router_ratio=0.5)


def test_band_energy_puts_known_signals_in_their_band():
    y, x = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing='ij')
    constant = torch.ones(3, 12, 12)
    quarter_cycle = torch.cos(2 * math.pi * 0.25 * x).expand(3, 12, 12)  # rho = 0.5
    checkerboard = ((-1.0) ** (x + y)).expand(3, 12, 12)  # rho = sqrt(2)
    assert band_energy(constant)['low'] == pytest.approx(1.0)
    assert band_energy(quarter_cycle)['mid'] == pytest.approx(1.0)
    assert band_energy(checkerboard)['high'] == pytest.approx(1.0)
    mixed = band_energy(constant + checkerboard)
    assert mixed['low'] == pytest.approx(0.5) and mixed['high'] == pytest.approx(0.5)


def test_effective_rank_counts_independent_directions():
    assert effective_rank(torch.ones(10, 4) * torch.randn(1, 4)) == pytest.approx(1.0, abs=1e-6)
    assert effective_rank(torch.eye(6)) == pytest.approx(6.0)
    rank_two = torch.cat([torch.eye(2) * 3, torch.zeros(5, 2)])
    assert effective_rank(rank_two) == pytest.approx(2.0)


def test_mean_abs_cosine_is_one_for_collapsed_and_zero_for_orthogonal_tokens():
    assert mean_abs_cosine(torch.randn(1, 8).repeat(5, 1) * torch.tensor(
        [[1.0], [-2.0], [3.0], [0.5], [-1.0]])) == pytest.approx(1.0)
    assert mean_abs_cosine(torch.eye(4)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match='at least 2 tokens, got 1'):
        mean_abs_cosine(torch.randn(1, 3))


def test_layer_statistics_of_a_token_grid():
    stats = layer_statistics(torch.randn(16, 7, 9))
    assert set(stats) == {'low', 'mid', 'high', 'effective_rank', 'mean_abs_cosine'}
    assert sum(stats[b] for b in ('low', 'mid', 'high')) == pytest.approx(1.0)
    assert 1.0 < stats['effective_rank'] <= 16


def plain_vit(**overrides) -> torch.nn.Module:
    """A 3-block mmseg-layout ViT (patch 8, 16 channels) returning every block."""
    args = dict(img_size=32, patch_size=8, embed_dims=16, num_layers=3, num_heads=2,
                out_indices=(0, 1, 2), freq_scale_cfg=SMALL_FREQ)
    torch.manual_seed(0)
    model = FDAMVisionTransformer(**{**args, **overrides})
    model.init_weights()
    return model.eval()


def fdam_vit() -> torch.nn.Module:
    torch.manual_seed(0)
    model = FDAMDeiT3(dict(embed_dims=16, num_layers=3, num_heads=2, feedforward_channels=32),
                    img_size=32, patch_size=8, out_indices=(0, 1, 2), freq_scale_cfg=SMALL_FREQ)
    model.init_weights()
    return model.eval()


VITS = {'FDAMVisionTransformer': plain_vit,
        'FDAMVisionTransformer without class token': lambda: plain_vit(with_cls_token=False),
        'FDAMDeiT3': fdam_vit}


@pytest.mark.parametrize('build', VITS.values(), ids=list(VITS))
def test_vit_block_grids_are_the_patch_token_maps_it_returns(build):
    # every block is an output: its grid must be the backbone's own map of
    # that block, i.e. the patch tokens only (a class token taken in, or the
    # last patch token dropped instead of it, breaks the equality)
    model, x = build(), torch.randn(2, 3, 45, 38)
    with torch.no_grad():
        outputs = model(x)
        grids = block_grids(model, x)
    assert [name for name, _ in grids] == ['layers.0', 'layers.1', 'layers.2']
    for (name, grid), out in zip(grids, outputs):
        assert grid.shape == (2, 16, 6, 5), name  # ceil(45 / 8), ceil(38 / 8)
        torch.testing.assert_close(grid, out, rtol=0, atol=0)


def test_class_token_is_not_in_the_grid_spectrum():
    # a ViT whose blocks pass tokens unchanged, fed a checkerboard of patches
    # (+1 / -1 per patch): its grid is all high frequency; a class token of
    # 1000s counted in it would put most of the energy elsewhere
    model = plain_vit(patch_bias=False)
    for layer in model.layers:
        layer.forward = lambda x, hw_shape: x
    with torch.no_grad():
        model.cls_token.fill_(1000.0)
        model.pos_embed.zero_()
        model.patch_embed.proj.weight.zero_()
        model.patch_embed.proj.weight[:, 0] = 1.0 / 64
    y, x = torch.meshgrid(torch.arange(6 * 8), torch.arange(4 * 8), indexing='ij')
    checkerboard = ((-1.0) ** (y // 8 + x // 8)).expand(1, 3, -1, -1)
    stats = block_statistics(model, [checkerboard])
    assert [layer['high'] for layer in stats] == [pytest.approx(1.0)] * 3
    assert [layer['tokens'] for layer in stats] == [24.0] * 3


def test_mix_transformer_block_grids_are_those_of_their_stage():
    torch.manual_seed(0)
    arch = dict(embed_dims=8, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 2, 4])
    model = FDAMMiT(arch, freq_scale_cfg=SMALL_FREQ)
    model.init_weights()
    model.eval()
    x = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        grids = block_grids(model, x)
        # reference: the stages run by hand, every block's tokens on the stage grid
        expected, tokens = [], x
        for i, (patch_embed, blocks, norm) in enumerate(model.layers):
            tokens, hw = patch_embed(tokens)
            for j, block in enumerate(blocks):
                tokens = block(tokens, hw)
                expected.append((f'layers.{i}.1.{j}', tokens.transpose(1, 2).reshape(2, -1, *hw)))
            tokens = norm(tokens).transpose(1, 2).reshape(2, -1, *hw).contiguous()
    assert len(grids) == sum(arch['num_layers'])
    assert [name for name, _ in grids] == [name for name, _ in expected]
    # stride 4, then 2 per stage, rounded up: 97 x 131 -> 25 x 33 -> 13 x 17 -> 7 x 9 -> 4 x 5
    assert [tuple(grid.shape[1:]) for _, grid in grids] == [
        (8, 25, 33), (16, 13, 17), (16, 13, 17), (16, 7, 9), (32, 4, 5)]
    for (name, grid), (_, reference) in zip(grids, expected):
        torch.testing.assert_close(grid, reference, rtol=0, atol=0, msg=name)


def test_block_statistics_average_every_image_of_every_batch():
    model = plain_vit()
    batches = [torch.randn(2, 3, 45, 38), torch.randn(1, 3, 33, 40)]
    with torch.no_grad():
        outputs = [model(batch) for batch in batches]
    stats = block_statistics(model, batches)
    assert [(s['layer'], s['name']) for s in stats] == [(i, f'layers.{i}') for i in range(3)]
    for i, layer in enumerate(stats):
        maps = [out[i][b] for out in outputs for b in range(out[i].shape[0])]
        assert layer['tokens'] == pytest.approx((30 + 30 + 25) / 3)  # 6x5, 6x5, 5x5
        for key in STATISTICS:
            expected = sum(layer_statistics(m)[key] for m in maps) / 3
            assert layer[key] == pytest.approx(expected, rel=1e-6), (i, key)


def test_backbone_without_token_blocks_is_named():
    with pytest.raises(ValueError, match='backbone VAN has no token blocks'):
        block_statistics(VAN('b0'), [torch.randn(1, 3, 32, 32)])


def test_tool_names_the_config_and_backbone_it_cannot_read(tmp_path, monkeypatch):
    tool = load_script(TOOL)
    config = str(ROOT / 'configs' / 'fpn_van_t_synthetic.py')
    monkeypatch.setattr(sys, 'argv', [TOOL, '--model', 'VAN', config, str(tmp_path / 'none.pth'),
                                      '--out-dir', str(tmp_path)])
    with pytest.raises(SystemExit) as stopped:
        tool.main()
    error = str(stopped.value.code)
    assert error.startswith('error: ') and config in error and 'backbone VAN' in error
    assert not list(tmp_path.iterdir())
