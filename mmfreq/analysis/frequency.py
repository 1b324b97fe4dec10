"""Frequency diagnostics of token features (the FDAM paper's analysis).

For the token matrix X (N tokens x C channels) of one layer and one image:

- band energy: the share of ``sum_c |FFT2(X_c)|^2`` (the feature map per
  channel on its H x W grid) at normalised radial frequency
  ``rho = sqrt(f_y^2 + f_x^2) / 0.5`` (0.5 cycles per token is Nyquist) in
  low (rho < 1/3, DC included), mid (1/3 <= rho < 2/3) and high (rho >= 2/3);
- effective rank: ``exp(-sum_i p_i log p_i)`` with ``p_i = sigma_i / sum sigma``,
  sigma the singular values of X (1 when all tokens are one vector, up to
  min(N, C));
- mean pairwise |cosine| similarity of the tokens (i != j): 1 when the tokens
  have collapsed onto one direction.
"""
from typing import Dict

import torch
import torch.nn.functional as F

BANDS = ('low', 'mid', 'high')


def band_energy(feature: torch.Tensor) -> Dict[str, float]:
    """Share of spectral energy per band for one (C, H, W) feature map."""
    h, w = feature.shape[-2:]
    power = torch.fft.fft2(feature.float(), norm='ortho').abs().square().sum(0)
    fy = torch.fft.fftfreq(h, device=feature.device)[:, None]
    fx = torch.fft.fftfreq(w, device=feature.device)[None, :]
    rho = torch.sqrt(fy**2 + fx**2) / 0.5
    masks = (rho < 1 / 3, (rho >= 1 / 3) & (rho < 2 / 3), rho >= 2 / 3)
    total = power.sum().clamp_min(1e-30)
    return {band: float(power[mask].sum() / total) for band, mask in zip(BANDS, masks)}


def effective_rank(tokens: torch.Tensor) -> float:
    """Entropy effective rank of an (N, C) token matrix."""
    sigma = torch.linalg.svdvals(tokens.double())
    p = sigma / sigma.sum().clamp_min(1e-300)
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def mean_abs_cosine(tokens: torch.Tensor) -> float:
    """Mean |cos| between distinct rows of an (N, C) token matrix (N >= 2)."""
    n = tokens.shape[0]
    if n < 2:
        raise ValueError(f'mean_abs_cosine needs at least 2 tokens, got {n}')
    unit = F.normalize(tokens.double(), dim=1)
    cos = (unit @ unit.t()).abs()
    return float((cos.sum() - cos.diagonal().sum()) / (n * (n - 1)))


def layer_statistics(grid: torch.Tensor) -> Dict[str, float]:
    """All three diagnostics for one (C, H, W) token grid."""
    tokens = grid.flatten(1).t()
    return {**band_energy(grid), 'effective_rank': effective_rank(tokens),
            'mean_abs_cosine': mean_abs_cosine(tokens)}
