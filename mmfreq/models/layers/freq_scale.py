"""FreqScale from FDAM ("GroupDynamicScale" in the official code): a per-image
mix of learned spectral filters, so a network can re-weight frequency bands
(restore the detail that attention and upsampling smooth away)."""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .star_relu import StarReLU


class FreqScale(nn.Module):
    """Grouped, dynamically mixed filters applied to the 2-D real spectrum.

    For X of shape (B, C, H, W): ``S = rfft2(X)`` (fp32, 'ortho'); a router
    ``tanh(MLP(mean_hw X))`` gives ``alpha`` of shape (B, groups, num_filters);
    the static basis ``W`` (num_filters, C / groups, b, b // 2 + 1) is resized
    bicubically to S's size; channel group g of image i is filtered with
    ``sum_n alpha[i, g, n] W[n]``; ``irfft2`` brings it back. The result is
    meant to be used residually, ``X + FreqScale(X)``; with the basis at its
    initial std of 1e-5 it starts almost at zero.

    The transforms and the filter are computed in fp32 even under autocast
    (half precision loses the small high-frequency terms this layer is
    for); the output has X's dtype.

    Nothing is kept between calls. The resized basis is recomputed each
    time (measured, 2 CPU threads: 1.2 ms of a 15-19 ms call at 32x32x768,
    4.2 of 54 ms at 64x64x768), so no cache can go stale when weights are
    swapped in by ``.data.copy_`` (EMA) or loaded. The transforms are
    torch's FFTs on every device: a second, DFT-matrix path for small maps
    on CPU measured 15.3 vs 19.4 ms (FFT) at 32x32x768 without autograd on a
    quiet machine and 88.8 vs 89.9 ms under load, 56.8 vs 54.0 ms at
    64x64x768, and was slower with autograd (37.3 vs 31.3 ms, 158 vs 150 ms
    forward and backward), so it was dropped.

    Args:
        channels (int): C.
        groups (int): Channel groups with their own mixing weights. Defaults to 16.
        num_filters (int): Basis filters n. Defaults to 4.
        basis_size (int): b, the basis' height (width b // 2 + 1). Defaults to 14.
        router_ratio (float): Hidden width of the router MLP as a fraction of
            C. Defaults to 0.0625.
        init_std (float): Std of the basis at initialisation. Defaults to 1e-5.

    Shape:
        (B, C, H, W) -> (B, C, H, W), any H, W; or (B, H, W, C) -> (B, H, W, C)
        with :meth:`forward_channels_last`.
    """

    def __init__(self, channels: int, groups: int = 16, num_filters: int = 4,
                 basis_size: int = 14, router_ratio: float = 0.0625,
                 init_std: float = 1e-5) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f'FreqScale: channels={channels} is not divisible by '
                             f'groups={groups}')
        hidden = max(1, int(channels * router_ratio))
        self.groups, self.num_filters = groups, num_filters
        self.router = nn.Sequential(
            nn.Linear(channels, hidden, bias=False), StarReLU(),
            nn.Linear(hidden, groups * num_filters, bias=False))
        self.basis = nn.Parameter(torch.empty(num_filters, channels // groups,
                                              basis_size, basis_size // 2 + 1))
        nn.init.normal_(self.basis, std=init_std)

    def filters(self, channel_means: torch.Tensor, spectrum_size: Tuple[int, int]
                ) -> torch.Tensor:
        """Per-image filters (B, C, H, W // 2 + 1) for fp32 channel means (B, C)
        and a spectrum of ``spectrum_size`` (H, W // 2 + 1)."""
        b, c = channel_means.shape
        alpha = torch.tanh(self.router(channel_means))  # (B, groups * num_filters)
        basis = self.basis.float()
        if basis.shape[-2:] != spectrum_size:
            basis = F.interpolate(basis, size=spectrum_size, mode='bicubic', align_corners=True)
        # filter of group g = sum_n alpha[g, n] basis[n]: one matmul
        mixed = alpha.view(b * self.groups, self.num_filters) @ basis.flatten(1)
        return mixed.view(b, c, *spectrum_size)

    def forward(self, x: torch.Tensor, residual: bool = False) -> torch.Tensor:
        """FreqScale(x), or ``x + FreqScale(x)`` with ``residual``, for a
        (B, C, H, W) map."""
        h, w = x.shape[-2:]
        with torch.autocast(device_type=x.device.type, enabled=False):
            x32 = x.float()
            spectrum = torch.fft.rfft2(x32, norm='ortho')  # (B, C, H, W // 2 + 1)
            # channel means from the DC bin, sum(x) / sqrt(H W): no pass over x
            filters = self.filters(spectrum[:, :, 0, 0].real / math.sqrt(h * w),
                                   tuple(spectrum.shape[-2:]))
            # a real filter scales real and imaginary parts alike
            spectrum = torch.view_as_complex(torch.view_as_real(spectrum) * filters[..., None])
            out = torch.fft.irfft2(spectrum, s=(h, w), norm='ortho')
            if residual:
                out = x32 + out
        return out.to(x.dtype)

    def forward_channels_last(self, x: torch.Tensor, residual: bool = False) -> torch.Tensor:
        """The same for a (B, H, W, C) map, e.g. tokens viewed as a grid."""
        return self(x.permute(0, 3, 1, 2), residual).permute(0, 2, 3, 1)


def add_freq_scale(x: torch.Tensor, freq_scale: Optional[FreqScale],
                   hw_shape: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """``x + FreqScale(x)``, the residual form FDAM uses after attention, MLP
    and pyramid levels, for a channels-last map: (B, H, W, C), or (B, H*W, C)
    tokens of an ``hw_shape`` (H, W) grid. ``x`` unchanged when ``freq_scale``
    is None (FDAM switched off)."""
    if freq_scale is None:
        return x
    if hw_shape is None:
        return freq_scale.forward_channels_last(x, residual=True)
    grid = x.view(x.shape[0], *hw_shape, x.shape[2])
    return freq_scale.forward_channels_last(grid, residual=True).flatten(1, 2)
