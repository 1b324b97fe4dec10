"""FreqScale from FDAM ("GroupDynamicScale" in the official code): a per-image
mix of learned spectral filters, so a network can re-weight frequency bands
(restore the detail that attention and upsampling smooth away)."""
import functools
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .star_relu import StarReLU


@functools.lru_cache(maxsize=32)
def dft_matrices(h: int, w: int, device: torch.device) -> Tuple[torch.Tensor, ...]:
    """fp32 matrices of ``rfft2`` / ``irfft2`` ('ortho') on an (H, W) grid.

    Returns ``(rdft_w, dft_h, irdft_w)``: ``rdft_w`` (2 W', W) maps a row to
    its real and imaginary half spectrum (W' = W // 2 + 1); ``dft_h``
    (2 H, 2 H) is the complex DFT along H on rows ordered (h, real / imag),
    its transpose the inverse; ``irdft_w`` (W, 2 W') maps a half spectrum
    back to a real row, counting each bin but DC and Nyquist twice and
    ignoring their imaginary parts, as ``irfft`` does.
    """
    half = w // 2 + 1
    k = torch.arange(half, dtype=torch.float64)
    phase = 2 * math.pi * k[:, None] * torch.arange(w, dtype=torch.float64) / w  # (W', W)
    rdft_w = torch.cat([phase.cos(), -phase.sin()]) / math.sqrt(w)
    twice = torch.full((half, 1), 2.0, dtype=torch.float64)
    twice[0] = 1
    if w % 2 == 0:
        twice[-1] = 1
    irdft_w = torch.cat([twice * phase.cos(), -twice * phase.sin()]).t() / math.sqrt(w)
    angle = 2 * math.pi * torch.outer(torch.arange(h), torch.arange(h)).double() / h
    cos, sin = angle.cos(), angle.sin()
    # (ky, real / imag) x (h, real / imag): X = sum_h (x_re + i x_im)(cos - i sin)
    dft_h = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], 1)
    dft_h = dft_h.reshape(2 * h, 2 * h) / math.sqrt(h)
    return tuple(m.float().to(device) for m in (rdft_w, dft_h, irdft_w))


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

    On CPU, maps up to ``cpu_dft_max_size`` on a side (a ViT's token grid)
    are transformed with DFT matrices instead of FFTs: with channels last
    that is five matmuls over contiguous channels and no transposes, where
    torch's FFTs need several layout copies and the layer is memory-bound.
    Larger maps, and all maps on other devices (GPUs), use torch.fft.

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

    cpu_dft_max_size = 128

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
        self._mixable = None  # (key, mixable basis), kept for inference

    def mixable_basis(self, spectrum_size: Tuple[int, int], channels_last: bool) -> torch.Tensor:
        """The basis in fp32, resized bicubically to ``spectrum_size`` (H, W // 2 + 1),
        flattened to (num_filters, C / groups * H * (W // 2 + 1)) with the
        channels first or (``channels_last``) last.

        Without autograd it is kept until the size or the basis changes (an
        optimizer step or a load bumps the parameter's version).
        """
        key = (spectrum_size, channels_last, self.basis._version, self.basis.device)
        if torch.is_grad_enabled() and self.basis.requires_grad:
            key = None
        elif self._mixable is not None and self._mixable[0] == key:
            return self._mixable[1]
        basis = self.basis.float()
        if basis.shape[-2:] != spectrum_size:
            basis = F.interpolate(basis, size=spectrum_size, mode='bicubic', align_corners=True)
        mixable = (basis.permute(0, 2, 3, 1) if channels_last else basis).flatten(1)
        if key is not None:
            self._mixable = (key, mixable)
        return mixable

    def filters(self, channel_means: torch.Tensor, spectrum_size: Tuple[int, int],
                channels_last: bool) -> torch.Tensor:
        """Per-image filters for fp32 channel means (B, C): (B, C, H, W // 2 + 1),
        or with ``channels_last`` (B, H, W // 2 + 1, groups, C / groups)."""
        b, c = channel_means.shape
        alpha = torch.tanh(self.router(channel_means))  # (B, groups * num_filters)
        basis = self.mixable_basis(spectrum_size, channels_last)
        # filter of group g = sum_n alpha[g, n] basis[n]: one matmul
        mixed = alpha.view(b * self.groups, self.num_filters) @ basis
        if not channels_last:
            return mixed.view(b, c, *spectrum_size)
        return mixed.view(b, self.groups, *spectrum_size, -1).permute(0, 2, 3, 1, 4)

    def forward(self, x: torch.Tensor, residual: bool = False) -> torch.Tensor:
        """FreqScale(x), or ``x + FreqScale(x)`` with ``residual``, for a
        (B, C, H, W) map."""
        return self.forward_channels_last(x.permute(0, 2, 3, 1), residual).permute(0, 3, 1, 2)

    def forward_channels_last(self, x: torch.Tensor, residual: bool = False) -> torch.Tensor:
        """The same for a (B, H, W, C) map, e.g. tokens viewed as a grid."""
        h, w = x.shape[1:3]
        use_fft = x.device.type != 'cpu' or max(h, w) > self.cpu_dft_max_size
        with torch.autocast(device_type=x.device.type, enabled=False):
            x32 = x.float()
            out = (self._apply_fft if use_fft else self._apply_dft)(x32, residual)
        return out.to(x.dtype)

    @staticmethod
    def _channel_means(dc: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Channel means from the spectrum's DC bin, sum(x) / sqrt(H W): no pass over x."""
        return dc / math.sqrt(h * w)

    def _apply_fft(self, x: torch.Tensor, residual: bool) -> torch.Tensor:
        """FreqScale (plus x with ``residual``) of a (B, H, W, C) map with torch.fft."""
        h, w = x.shape[1:3]
        spectrum = torch.fft.rfft2(x.permute(0, 3, 1, 2), norm='ortho')  # (B, C, H, W')
        filters = self.filters(self._channel_means(spectrum[:, :, 0, 0].real, h, w),
                               (h, w // 2 + 1), channels_last=False)
        # a real filter scales real and imaginary parts alike
        spectrum = torch.view_as_complex(torch.view_as_real(spectrum) * filters[..., None])
        out = torch.fft.irfft2(spectrum, s=(h, w), norm='ortho').permute(0, 2, 3, 1)
        return x + out if residual else out

    def _apply_dft(self, x: torch.Tensor, residual: bool) -> torch.Tensor:
        """The same with DFT matrices; each step keeps the channels last.

        The W-transformed rows are (B H, 2 W', C) (real, then imaginary half
        spectrum), the spectrum (B, H, 2, W', C) (rows ky, then real /
        imaginary).
        """
        b, h, w, c = x.shape
        rdft_w, dft_h, irdft_w = dft_matrices(h, w, x.device)
        rows = torch.matmul(rdft_w, x.reshape(b * h, w, c))
        spectrum = torch.matmul(dft_h, rows.view(b, 2 * h, -1))  # along H
        filters = self.filters(self._channel_means(spectrum[:, 0, :c], h, w),
                               (h, w // 2 + 1), channels_last=True)
        spectrum.view(b, h, 2, *filters.shape[2:]).mul_(filters[:, :, None])
        # Without autograd the inverse writes into this call's own buffers, two
        # fresh ones fewer: glibc's malloc returns freed buffers of this size to
        # the system, and each fresh one is page-faulted in again.
        inverse_h = out = None
        if not torch.is_grad_enabled():
            inverse_h = rows.view(b, 2 * h, -1)
            out = spectrum.view(-1)[:x.numel()].view(b * h, w, c)  # 2 W' >= W
        rows = torch.matmul(dft_h.t(), spectrum, out=inverse_h).view(b * h, -1, c)
        if residual:
            out = torch.baddbmm(x.reshape(b * h, w, c), irdft_w.expand(b * h, -1, -1), rows,
                                out=out)
        else:
            out = torch.matmul(irdft_w, rows, out=out)
        return out.view(b, h, w, c)


def add_freq_scale(tokens: torch.Tensor, freq_scale: Optional[FreqScale],
                   hw_shape: Tuple[int, int]) -> torch.Tensor:
    """``tokens + FreqScale(tokens)`` for (B, H*W, C) tokens of an (H, W) grid,
    the residual form FDAM uses after attention and MLP branches; the tokens
    unchanged when ``freq_scale`` is None."""
    if freq_scale is None:
        return tokens
    grid = tokens.view(tokens.shape[0], *hw_shape, tokens.shape[2])
    return freq_scale.forward_channels_last(grid, residual=True).flatten(1, 2)
