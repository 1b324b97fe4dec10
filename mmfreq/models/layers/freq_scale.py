"""FreqScale from FDAM ("GroupDynamicScale" in the official code): a per-image
mix of learned spectral filters, so a network can re-weight frequency bands
(restore the detail that attention and upsampling smooth away)."""
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

    The FFT and the filter are computed in fp32 even under autocast (half
    precision FFTs lose the small high-frequency terms this layer is for);
    the output has X's dtype.

    Args:
        channels (int): C.
        groups (int): Channel groups with their own mixing weights. Defaults to 16.
        num_filters (int): Basis filters n. Defaults to 4.
        basis_size (int): b, the basis' height (width b // 2 + 1). Defaults to 14.
        router_ratio (float): Hidden width of the router MLP as a fraction of
            C. Defaults to 0.0625.
        init_std (float): Std of the basis at initialisation. Defaults to 1e-5.

    Shape:
        (B, C, H, W) -> (B, C, H, W), any H, W.
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
        self._resized = None  # (key, basis resized to a spectrum size), for inference

    def resized_basis(self, spectrum_size: tuple) -> torch.Tensor:
        """The basis in fp32, resized bicubically to ``spectrum_size`` (H, W // 2 + 1).

        Without autograd the resized basis is kept until the size or the basis
        changes (an optimizer step or a load bumps the parameter's version).
        """
        basis = self.basis.float()
        if basis.shape[-2:] == spectrum_size:
            return basis
        if torch.is_grad_enabled() and self.basis.requires_grad:
            return F.interpolate(basis, size=spectrum_size, mode='bicubic', align_corners=True)
        key = (spectrum_size, self.basis._version, self.basis.device)
        if self._resized is None or self._resized[0] != key:
            self._resized = (key, F.interpolate(basis, size=spectrum_size, mode='bicubic',
                                                align_corners=True))
        return self._resized[1]

    def filters(self, x: torch.Tensor, spectrum_size: tuple) -> torch.Tensor:
        """Per-image filters (B, C, H, W // 2 + 1) for fp32 input x (B, C, H, W)."""
        b, c = x.shape[:2]
        alpha = torch.tanh(self.router(x.mean(dim=(2, 3))))  # (B, groups * num_filters)
        basis = self.resized_basis(spectrum_size).flatten(1)  # (num_filters, C / groups * HW')
        # filter of group g = sum_n alpha[g, n] basis[n]: one matmul, laid out as (B, C, H, W')
        mixed = alpha.view(b * self.groups, self.num_filters) @ basis
        return mixed.view(b, c, *spectrum_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        with torch.autocast(device_type=x.device.type, enabled=False):
            x32 = x.float()
            spectrum = torch.fft.rfft2(x32, norm='ortho')
            filters = self.filters(x32, tuple(spectrum.shape[-2:]))
            # a real filter scales real and imaginary parts alike
            spectrum = torch.view_as_complex(torch.view_as_real(spectrum) * filters[..., None])
            out = torch.fft.irfft2(spectrum, s=(h, w), norm='ortho')
        return out.to(x.dtype)


def add_freq_scale(tokens: torch.Tensor, freq_scale: Optional[FreqScale],
                   hw_shape: Tuple[int, int]) -> torch.Tensor:
    """``tokens + FreqScale(tokens)`` for (B, H*W, C) tokens of an (H, W) grid,
    the residual form FDAM uses after attention and MLP branches; the tokens
    unchanged when ``freq_scale`` is None."""
    if freq_scale is None:
        return tokens
    b, _, c = tokens.shape
    grid = tokens.transpose(1, 2).reshape(b, c, *hw_shape)
    return tokens + freq_scale(grid).flatten(2).transpose(1, 2)
