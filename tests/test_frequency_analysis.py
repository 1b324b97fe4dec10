"""The frequency diagnostics measure what their names say."""
import math

import pytest
import torch

from mmfreq.analysis import band_energy, effective_rank, layer_statistics, mean_abs_cosine


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
