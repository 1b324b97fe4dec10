"""FreqScale from FDAM ("GroupDynamicScale" in the official code): a per-image
mix of learned spectral filters, so a network can re-weight frequency bands
(restore the detail that attention and upsampling smooth away)."""
import functools
import math
from typing import Any, Callable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .star_relu import StarReLU


class FreqScale(nn.Module):
    """Grouped, dynamically mixed filters applied to the 2-D real spectrum.

    For a map X of C channels on an (H, W) grid: ``S = rfft2(X)`` over the
    grid (fp32); a router ``tanh(MLP(mean_hw X))`` gives ``alpha`` of shape
    (B, groups, num_filters); the static basis ``W`` (num_filters, C / groups,
    b, b // 2 + 1) is resized bicubically to S's size; channel group g of
    image i is filtered with ``sum_n alpha[i, g, n] W[n]``; ``irfft2`` brings
    it back. Used residually, ``X + FreqScale(X)`` (:func:`add_freq_scale`);
    at the basis' initial std of 1e-5 it starts almost at zero.

    The map is channels-last. Grids up to ``matrix_dft_max_side`` per side
    are transformed by products with real DFT matrices (channels-last, all
    real arithmetic, traced by ``torch.compile``); larger ones by
    ``torch.fft`` on a channels-first copy. ONNX export uses the matrices at
    every size, so the exported graph is fixed to the traced size. Both are
    normalised 'forward' (the DC bin is the mean the router reads), which
    gives the official 'ortho' result since the filter is linear. Transforms
    and filter run in fp32 under autocast; the output has X's dtype. The
    DFT and interpolation matrices are constants cached per size and device;
    the filters are rebuilt every call, so weights swapped in (EMA, loading)
    act at once. Backward keeps the spectrum and the small per-image filters
    only (:class:`_Spectrum`, :class:`_FilteredInverse`). docs/benchmarks.md
    explains the choices.

    Args:
        channels (int): C.
        groups (int): Channel groups with their own mixing weights. Defaults to 16.
        num_filters (int): Basis filters n. Defaults to 4.
        basis_size (int): b, the basis' height (width b // 2 + 1). Defaults to 14.
        router_ratio (float): Router MLP width as a fraction of C. Defaults to 0.0625.
        init_std (float): Std of the basis at initialisation. Defaults to 1e-5.

    Shape:
        (B, H, W, C) -> (B, H, W, C), any H, W: the filtered map, without X.
    """

    # read by the ONNX exporter (mmfreq.deployment.onnx), which refuses --dynamic
    fixed_size_export = ('filters the spectrum with torch.fft.rfft2 / irfft2, which '
                         'torch.onnx.export does not support (aten::fft_rfft2); it exports as '
                         'DFT matrix products of one fixed size')
    # grids up to this many rows and columns are transformed by DFT matrices
    matrix_dft_max_side = 32

    def __init__(self, channels: int, groups: int = 16, num_filters: int = 4,
                 basis_size: int = 14, router_ratio: float = 0.0625,
                 init_std: float = 1e-5) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f'FreqScale: channels={channels} is not divisible by '
                             f'groups={groups}')
        hidden = max(1, int(channels * router_ratio))
        self.groups, self.num_filters = groups, num_filters
        self.init_std = init_std  # the reference of mmfreq.analysis.fdam_diagnostics
        self.router = nn.Sequential(
            nn.Linear(channels, hidden, bias=False), StarReLU(),
            nn.Linear(hidden, groups * num_filters, bias=False))
        self.basis = nn.Parameter(torch.empty(num_filters, channels // groups,
                                              basis_size, basis_size // 2 + 1))
        nn.init.normal_(self.basis, std=init_std)

    def _small_filters(self, channel_means: torch.Tensor) -> torch.Tensor:
        # (B, C, b, b // 2 + 1): each image's mix of the basis at the basis' size (the
        # resize is linear, so mixing first resizes B * C maps, not n * C / groups)
        b, c = channel_means.shape
        alpha = torch.tanh(self.router(channel_means)).view(-1, self.num_filters)
        mixed = alpha @ self.basis.float().flatten(1)
        return mixed.view(b, c, *self.basis.shape[-2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The filtered map of a channels-last (B, H, W, C) map."""
        h, w, dtype = x.shape[1], x.shape[2], x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            dft = ()
            if max(h, w) <= self.matrix_dft_max_side or torch.onnx.is_in_onnx_export():
                dft = _constant(_dft_matrices, h, w, x.device)
            spectrum, means = _Spectrum.apply(x, *dft)
            small = self._small_filters(means)
            resize = _resize_matrices(small.shape[-2:], (h, w // 2 + 1), x.device)
            out = _FilteredInverse.apply(spectrum, small, (h, w), *resize, *dft)
        return (out if dft else out.permute(0, 2, 3, 1)).to(dtype)


# FreqScale's two halves as autograd Functions, so that backward keeps only the
# spectrum (as large as the map) and the small filters: autograd would also keep
# the map's channels-first copy and the full-size filters (half the map).
# Spectra are (B, H, 2, W // 2 + 1, C) real on the DFT-matrix path (the four
# :func:`_dft_matrices` given) and (B, C, H, W // 2 + 1) complex on the torch.fft
# path, which transforms a channels-first copy; ``dft`` is empty there.


class _Spectrum(torch.autograd.Function):
    """rfft2 (norm 'forward') of a real (B, H, W, C) map and its DC bin, the
    channel means (B, C). Its adjoint is the inverse transform of the gradient
    with each bin divided by H W and by irfft's count of it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, *dft: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        ctx.save_for_backward(*dft)  # constants
        ctx.size = x.shape[1:3]
        spectrum = _transform(x if dft else x.permute(0, 3, 1, 2), dft)
        return spectrum, _dc(spectrum, dft).clone()  # not a view: two outputs

    @staticmethod
    def backward(ctx, grad_spectrum: torch.Tensor, grad_means: torch.Tensor
                 ) -> Tuple[torch.Tensor, ...]:
        dft = ctx.saved_tensors
        h, w = ctx.size
        grad = grad_spectrum * _bin_scale(h, w, dft, grad_means.device).reciprocal_()
        _dc(grad, dft).add_(grad_means / (h * w))  # the DC bin counts once
        grad_x = _inverse(grad, (h, w), dft)
        return (grad_x, *(None for _ in dft)) if dft else grad_x.permute(0, 2, 3, 1)


class _FilteredInverse(torch.autograd.Function):
    """The inverse transform of a spectrum times the filters resized from
    ``small`` (B, C, b, b') by the ``rows`` and ``cols`` matrices, to a map of
    ``size`` (channels-last on the matrix path, channels-first by torch.fft).
    For real filters the whole layer is self-adjoint, so the map's gradient
    spectrum is the forward transform of the output's, ``G``; the spectrum's
    gradient is ``G`` times the filters, the filters' ``Re(G conj(S))``, both
    times H W and irfft's count of each bin."""

    @staticmethod
    def forward(ctx, spectrum: torch.Tensor, small: torch.Tensor, size: Tuple[int, int],
                rows: torch.Tensor, cols: torch.Tensor, *dft: torch.Tensor) -> torch.Tensor:
        ctx.size = size
        filters = _resize(small, rows, cols, dft)
        if not any(ctx.needs_input_grad[:2]):  # no backward: filter the layer's own spectrum
            return _inverse(spectrum.mul_(filters), size, dft)  # in place (one map less)
        ctx.save_for_backward(spectrum, small, rows, cols, *dft)
        return _inverse(spectrum * filters, size, dft)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        spectrum, small, rows, cols, *dft = ctx.saved_tensors
        scale = _bin_scale(*ctx.size, dft, grad.device)
        grad_out = _transform(grad, dft)
        grad_spectrum = grad_out * (_resize(small, rows, cols, dft) * scale)
        grad_filters = _real_product(grad_out, spectrum, dft).mul_(scale)
        grad_small = _resize_adjoint(grad_filters, rows, cols, dft)
        return (grad_spectrum, grad_small, None, None, None, *(None for _ in dft))


def add_freq_scale(x: torch.Tensor, freq_scale: Optional[FreqScale],
                   hw_shape: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """``x + FreqScale(x)``, the residual form FDAM uses after attention, MLP
    and pyramid levels, for a channels-last map: (B, H, W, C), or (B, H*W, C)
    tokens of an ``hw_shape`` (H, W) grid. ``x`` unchanged when
    ``freq_scale`` is None (FDAM switched off)."""
    if freq_scale is None:
        return x
    b, c = x.shape[0], x.shape[-1]
    h, w = x.shape[1:3] if hw_shape is None else hw_shape
    return torch.add(x, freq_scale(x.reshape(b, h, w, c)).reshape(x.shape))


def _constant(build: Callable[..., Any], *args: Any) -> Any:
    # cached in eager mode (a few hundred sizes at most), made outside inference mode so
    # that autograd can save it later; built anew while compiling or exporting
    if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return build.__wrapped__(*args)
    with torch.inference_mode(False):
        return build(*args)


def _resize_matrices(size: Sequence[int], new_size: Sequence[int], device: torch.device
                     ) -> Tuple[torch.Tensor, ...]:
    return tuple(_constant(_bicubic_matrix, n, m, device) for n, m in zip(size, new_size))


@functools.lru_cache(maxsize=256)
def _bicubic_matrix(size: int, new_size: int, device: torch.device) -> torch.Tensor:
    """(new_size, size): ``F.interpolate(..., mode='bicubic', align_corners=True)``
    along one axis as a matrix (its columns are the resized unit vectors)."""
    units = torch.eye(size, device=device).view(1, size, size, 1)
    return F.interpolate(units, size=(new_size, 1), mode='bicubic',
                         align_corners=True).view(size, new_size).t()


@functools.lru_cache(maxsize=256)
def _dft_matrices(h: int, w: int, device: torch.device) -> Tuple[torch.Tensor, ...]:
    """fp32 matrices of the 2-D real DFT of an (H, W) map, normalised 'forward',
    for the channels-last layouts of :func:`_rfft2` and :func:`_irfft2`; "part"
    indexes real and imaginary parts, ``half`` is W // 2 + 1.

    Returns ``forward_w`` (2 half, W): rows (part, kw), the half spectrum of
    real rows; ``forward_h`` (2H, 2H): rows (kh, part), columns (h, part), the
    DFT of complex columns; ``inverse_h``, its inverse without the 1 / H;
    ``inverse_w`` (W, 2 half): columns (part, kw), back to real rows, every
    bin but DC and Nyquist counted twice, as ``irfft`` does (the imaginary
    parts of those two bins meet sin(0) and sin(pi w): ignored, as there).
    """
    def angles(n: int, k: int) -> torch.Tensor:
        # k x n; the product is reduced mod n first, so large sizes keep exact angles
        steps = torch.outer(torch.arange(k), torch.arange(n)) % n
        return 2 * math.pi * steps.double() / n

    rows, half = angles(h, h), angles(w, w // 2 + 1)
    cos_h, sin_h, cos_w, sin_w = rows.cos(), rows.sin(), half.cos(), half.sin()
    twice = _bin_counts(w, torch.device('cpu')).double()[:, None]
    forward_w = torch.cat([cos_w, -sin_w]) / w
    # (a + ib)(cos + i sin) = (a cos - b sin) + i (a sin + b cos); cos_h, sin_h are
    # symmetric, and the forward transform (the conjugate) is the transpose
    inverse_h = torch.stack([torch.stack([cos_h, -sin_h], dim=-1),
                             torch.stack([sin_h, cos_h], dim=-1)], dim=1).reshape(2 * h, 2 * h)
    inverse_w = torch.cat([twice * cos_w, -twice * sin_w]).t()
    return tuple(m.float().to(device) for m in (forward_w, inverse_h.t() / h, inverse_h, inverse_w))


def _rfft2(x: torch.Tensor, dft: Tuple[torch.Tensor, ...]) -> torch.Tensor:
    """rfft2 (norm 'forward') over the grid of a real fp32 (B, H, W, C) map, as
    (B, H, 2, W // 2 + 1, C): real and imaginary parts of each row, channels last."""
    b, h, w, c = x.shape
    forward_w, forward_h = dft[:2]
    rows = forward_w @ x.reshape(b * h, w, c)  # (B*H, 2 half, C): (h, part, kw, c)
    return (forward_h @ rows.view(b, 2 * h, -1)).view(b, h, 2, -1, c)


def _irfft2(spectrum: torch.Tensor, dft: Tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Inverse of :func:`_rfft2`: a real (B, H, W, C) map."""
    b, h, _, half, c = spectrum.shape
    inverse_h, inverse_w = dft[2:]
    rows = inverse_h @ spectrum.reshape(b, 2 * h, half * c)  # (B, 2H, half*C): (h, part, kw, c)
    return (inverse_w @ rows.view(b * h, 2 * half, c)).view(b, h, -1, c)


def _transform(x: torch.Tensor, dft: Sequence[torch.Tensor]) -> torch.Tensor:
    """rfft2 (norm 'forward') of a map in its path's layout: (B, H, W, C) on the
    matrix path, (B, C, H, W) by torch.fft."""
    return _rfft2(x, dft) if dft else torch.fft.rfft2(x, norm='forward')


def _dc(spectrum: torch.Tensor, dft: Sequence[torch.Tensor]) -> torch.Tensor:
    """The real part of a spectrum's DC bin, (B, C): a view."""
    return spectrum[:, 0, 0, 0] if dft else spectrum[:, :, 0, 0].real


def _inverse(spectrum: torch.Tensor, size: Tuple[int, int], dft: Sequence[torch.Tensor]
             ) -> torch.Tensor:
    if dft:
        return _irfft2(spectrum, dft)
    return torch.fft.irfft2(spectrum, s=size, norm='forward')


def _real_product(a: torch.Tensor, b: torch.Tensor, dft: Sequence[torch.Tensor]
                  ) -> torch.Tensor:
    """``Re(a conj(b))`` of two spectra, the filters' shape."""
    if dft:
        return (a * b).sum(2)
    a, b = torch.view_as_real(a), torch.view_as_real(b)
    return torch.addcmul(a[..., 0] * b[..., 0], a[..., 1], b[..., 1])


def _bin_counts(w: int, device: torch.device) -> torch.Tensor:
    """(W // 2 + 1,): how many bins of the full spectrum each half-spectrum bin
    stands for in ``irfft``: 2, but 1 for DC and (even W) Nyquist."""
    counts = torch.full((w // 2 + 1,), 2.0, device=device)
    counts[0] = 1
    if w % 2 == 0:
        counts[-1] = 1
    return counts


def _bin_scale(h: int, w: int, dft: Sequence[torch.Tensor], device: torch.device
               ) -> torch.Tensor:
    # H W times each bin's count, shaped to scale the spectra and filters of a path
    scale = _bin_counts(w, device).mul_(h * w)
    return scale[:, None] if dft else scale


def _resize(small: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
            dft: Sequence[torch.Tensor]) -> torch.Tensor:
    """(B, C, b, b') filters resized by the (H, b) and (half, b') matrices and laid
    out to scale a spectrum: (B, H, 1, half, C) or (B, C, H, half)."""
    if not dft:
        return rows @ small @ cols.t()
    b, c = small.shape[:2]
    small = cols @ small.permute(0, 2, 3, 1)  # (B, b, half, C)
    return (rows @ small.flatten(2)).view(b, rows.shape[0], 1, cols.shape[0], c)


def _resize_adjoint(grad: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                    dft: Sequence[torch.Tensor]) -> torch.Tensor:
    if not dft:
        return rows.t() @ grad @ cols
    b, _, half, c = grad.shape
    grad = (rows.t() @ grad.flatten(2)).view(b, rows.shape[1], half, c)
    return (cols.t() @ grad).permute(0, 3, 1, 2)
