"""Frequency diagnostics of token features (the FDAM paper's analysis), for the
token matrix X (N tokens x C channels) of one layer and one image:

- band energy: the share of ``sum_c |FFT2(X_c)|^2`` on the H x W grid at radial
  frequency ``rho = sqrt(f_y^2 + f_x^2) / 0.5`` (1 at Nyquist) in low (rho < 1/3,
  DC included), mid (1/3 <= rho < 2/3) and high (rho >= 2/3);
- effective rank: ``exp(-sum_i p_i log p_i)``, ``p_i = sigma_i / sum sigma`` over
  the singular values of X (1 for identical tokens, up to min(N, C));
- mean pairwise |cosine| of the tokens (i != j): 1 when they have collapsed onto
  one direction.

:func:`block_statistics` measures them on the output of every token block
(``FDAMBlock``: one grid, prefix tokens left out; ``FDAMMiTBlock``: one per stage).
"""
from typing import Dict, Iterable, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmfreq.models.backbones.fdam_mit import FDAMMiTBlock
from mmfreq.models.layers.vit_parts import FDAMBlock

BANDS = ('low', 'mid', 'high')
STATISTICS = (*BANDS, 'effective_rank', 'mean_abs_cosine')
# blocks called as ``block(x, hw_shape)`` on (B, P + H*W, C) tokens, P = num_prefix_tokens
TOKEN_BLOCKS = (FDAMBlock, FDAMMiTBlock)


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


def token_blocks(backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The token blocks of a backbone, ``(module name, block)`` in the order they
    are defined, which is the order they run in.

    Raises:
        ValueError: The backbone has none, naming its type.
    """
    blocks = [(name, m) for name, m in backbone.named_modules() if isinstance(m, TOKEN_BLOCKS)]
    if not blocks:
        kinds = ', '.join(t.__name__ for t in TOKEN_BLOCKS)
        raise ValueError(f'backbone {type(backbone).__name__} has no token blocks ({kinds}, as '
                         'in mmfreq.FDAMDeiT3, FDAMVisionTransformer and FDAMMiT) whose '
                         '(B, H*W, C) outputs the frequency diagnostics read')
    return blocks


def block_grids(backbone: nn.Module, inputs: torch.Tensor) -> List[Tuple[str, torch.Tensor]]:
    """Run ``backbone`` on ``inputs`` and return every token block's output as
    ``(name, (B, C, H, W))`` in :func:`token_blocks` order, on the grid the backbone
    passes the block (``hw_shape``), its prefix tokens (a class token) left out.

    Raises:
        ValueError: A block's output has not prefix + H * W tokens, or a block
            did not run.
    """
    blocks = token_blocks(backbone)
    grids: Dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor) -> None:
            h, w = args[1] if len(args) > 1 else kwargs['hw_shape']
            prefix = getattr(module, 'num_prefix_tokens', 0)
            b, n, c = output.shape
            if n != prefix + h * w:
                raise ValueError(f'{type(backbone).__name__}.{name}: {n} output tokens are not '
                                 f'{prefix} prefix tokens and an {h}x{w} grid')
            grids[name] = output[:, prefix:].transpose(1, 2).reshape(b, c, h, w)
        return hook

    handles = [block.register_forward_hook(record(name), with_kwargs=True)
               for name, block in blocks]
    try:
        backbone(inputs)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name, _ in blocks if name not in grids]
    if missing:
        raise ValueError(f'{type(backbone).__name__}: blocks {missing} did not run')
    return [(name, grids[name]) for name, _ in blocks]


@torch.no_grad()
def block_statistics(backbone: nn.Module,
                     batches: Iterable[torch.Tensor]) -> List[Dict[str, object]]:
    """The diagnostics of every token block's output, averaged over images.

    Args:
        backbone (nn.Module): A backbone with :func:`token_blocks`.
        batches (Iterable[Tensor]): Inputs (B, 3, H, W); sizes may differ
            between batches.

    Returns:
        list[dict]: Per block, in :func:`token_blocks` order: ``layer`` (its
        index), ``name`` (module name), ``tokens`` (mean H * W of its grid),
        and the mean of each of :data:`STATISTICS` over all images.
    """
    sums: List[Dict[str, float]] = []
    names: List[str] = []
    seen = 0
    for inputs in batches:
        grids = block_grids(backbone, inputs)
        if not sums:
            names = [name for name, _ in grids]
            sums = [dict.fromkeys(('tokens', *STATISTICS), 0.0) for _ in grids]
        for total, (_, grid) in zip(sums, grids):
            for sample in grid:
                total['tokens'] += sample.shape[1] * sample.shape[2]
                for key, value in layer_statistics(sample).items():
                    total[key] += value
        seen += inputs.shape[0]
    if not seen:
        raise ValueError('block_statistics: no images')
    return [{'layer': i, 'name': name, **{k: v / seen for k, v in total.items()}}
            for i, (name, total) in enumerate(zip(names, sums))]
