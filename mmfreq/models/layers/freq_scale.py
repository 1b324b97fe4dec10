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

    For X of shape (B, C, H, W): ``S = rfft2(X)`` (fp32); a router
    ``tanh(MLP(mean_hw X))`` gives ``alpha`` of shape (B, groups, num_filters);
    the static basis ``W`` (num_filters, C / groups, b, b // 2 + 1) is resized
    bicubically to S's size; channel group g of image i is filtered with
    ``sum_n alpha[i, g, n] W[n]``; ``irfft2`` brings it back. The result is
    meant to be used residually, ``X + FreqScale(X)`` (:func:`add_freq_scale`);
    with the basis at its initial std of 1e-5 it starts almost at zero.

    The transforms and the filter are computed in fp32 even under autocast
    (half precision loses the small high-frequency terms this layer is
    for); the output has X's dtype. The spectrum is handled as its real and
    imaginary parts (``torch.view_as_real``) and filtered by a real multiply,
    so everything but the FFTs is real arithmetic that ``torch.compile``
    can fuse. While exporting to ONNX (``torch.onnx.is_in_onnx_export()``)
    the FFTs are products with DFT matrices of the traced size, since ONNX has
    no operator for torch's FFTs; the exported graph is then fixed to that size.
    The transforms are normalised 'forward' (1 / HW on the way in, so the DC
    bin is the mean the router reads); since the filter is linear, the
    result is that of the official 'ortho' pair.

    Nothing is kept between calls: the resized basis is recomputed each time,
    so weights swapped in by ``.data.copy_`` (EMA) or loaded take effect at once.

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

    # read by the ONNX exporter (mmfreq.deployment.onnx), which refuses --dynamic
    fixed_size_export = ('filters the spectrum with torch.fft.rfft2 / irfft2, which '
                         'torch.onnx.export does not support (aten::fft_rfft2); it exports as '
                         'DFT matrix products of one fixed size')

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """FreqScale(x) for a (B, C, H, W) map (contiguous is fastest)."""
        h, w = x.shape[-2:]
        with torch.autocast(device_type=x.device.type, enabled=False):
            spectrum = rfft2(x.float())  # (B, C, H, W // 2 + 1, 2)
            # the DC bin is the channel mean: no pass over x
            filters = self.filters(spectrum[:, :, 0, 0, 0], tuple(spectrum.shape[2:4]))
            # a real filter scales real and imaginary parts alike
            out = irfft2(spectrum * filters[..., None], (h, w))
        return out.to(x.dtype)


def add_freq_scale(x: torch.Tensor, freq_scale: Optional[FreqScale],
                   hw_shape: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """``x + FreqScale(x)``, the residual form FDAM uses after attention, MLP
    and pyramid levels, for a channels-last map: (B, H, W, C), or (B, H*W, C)
    tokens of an ``hw_shape`` (H, W) grid; the result is contiguous in x's
    layout. ``x`` unchanged when ``freq_scale`` is None (FDAM switched off).

    The map is transposed to channels-first once, where the FFTs run fastest,
    and the filtered map is added back to ``x`` in the same pass that
    transposes it again.
    """
    if freq_scale is None:
        return x
    b, c = x.shape[0], x.shape[-1]
    h, w = x.shape[1:3] if hw_shape is None else hw_shape
    channels_first = x.reshape(b, h * w, c).transpose(1, 2).reshape(b, c, h, w)
    filtered = freq_scale(channels_first.contiguous())
    return torch.add(x, filtered.view(b, c, -1).transpose(1, 2).view(x.shape))


def _dft_matrices(h: int, w: int, device: torch.device) -> Tuple[torch.Tensor, ...]:
    """fp32 matrices of the 2-D real DFT of an (H, W) map, normalised 'forward'.

    Returns ``(cos_h, sin_h)`` (H, H): real and imaginary part of the complex
    DFT along H (symmetric); ``(cos_w, sin_w)`` (W, W // 2 + 1): the half
    spectrum of each row; ``(icos_w, isin_w)`` (W // 2 + 1, W): back to a
    real row, every bin but DC and Nyquist counted twice, as ``irfft`` does
    (the imaginary parts of those two bins are ignored, as there).
    """
    def angles(n: int, k: int) -> torch.Tensor:
        return 2 * math.pi * torch.outer(torch.arange(n), torch.arange(k)).double() / n

    rows, half = angles(h, h), angles(w, w // 2 + 1)
    twice = torch.full((w // 2 + 1, 1), 2.0, dtype=torch.float64)
    twice[0] = 1
    if w % 2 == 0:
        twice[-1] = 1
    # the forward matrices carry the 1 / (H W); the inverse H stage uses the
    # conjugate of (cos_h, sin_h) times H
    mats = (rows.cos() / h, -rows.sin() / h, half.cos() / w, -half.sin() / w,
            twice * half.t().cos(), -twice * half.t().sin())
    return tuple(m.float().to(device) for m in mats)


def rfft2(x: torch.Tensor) -> torch.Tensor:
    """rfft2 (norm 'forward') over the last two dims of a real fp32 map, as real
    and imaginary parts (..., H, W // 2 + 1, 2); DFT-matrix products while
    exporting to ONNX."""
    if not torch.onnx.is_in_onnx_export():
        return torch.view_as_real(torch.fft.rfft2(x, norm='forward'))
    cos_h, sin_h, cos_w, sin_w, _, _ = _dft_matrices(*x.shape[-2:], x.device)
    re, im = x @ cos_w, x @ sin_w  # along W
    return torch.stack([cos_h @ re - sin_h @ im, cos_h @ im + sin_h @ re], dim=-1)


def irfft2(spectrum: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`rfft2` to a real map of ``size`` (H, W)."""
    if not torch.onnx.is_in_onnx_export():
        return torch.fft.irfft2(torch.view_as_complex(spectrum), s=size, norm='forward')
    cos_h, sin_h, _, _, icos_w, isin_w = _dft_matrices(*size, spectrum.device)
    cos_h, sin_h = cos_h * size[0], sin_h * size[0]
    spec_re, spec_im = spectrum.unbind(-1)
    # along H with the conjugate matrix, then back to real rows
    re, im = cos_h @ spec_re + sin_h @ spec_im, cos_h @ spec_im - sin_h @ spec_re
    return re @ icos_w + im @ isin_w
