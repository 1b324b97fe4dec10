"""Reference formulations of mmfreq's fast layers.

Each computes the function of the mmfreq layer it subclasses the plain way
(attention matrices materialised, rings and offsets gathered explicitly),
from that layer's parameters. The parity tests compare the fast layers with
them, and ``tools/analysis_tools/benchmark_backbones.py`` times networks
built with them as the baseline. None of them is a paper's released code:
each docstring says which computation it restates and where that
computation is written.

A network gets them by :func:`swap_layer_types` (same parameters, the
reference's forward); :class:`ExplicitFDAMDeiT3` is an FDAMDeiT3 built that way.
"""
import math
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmfreq.models.backbones.fdam_deit3 import FDAMDeiT3
from mmfreq.models.layers import AAConv2d, AttInvAttention, FocalAttention, FreqScale
from mmfreq.models.layers.vit_parts import FDAMBlock


def swap_layer_types(model: nn.Module, stand_ins: Dict[type, type]) -> nn.Module:
    """Give every module of ``model`` whose exact type is a key of ``stand_ins``
    the class it maps to, in place (same parameters, the stand-in's forward),
    and return ``model``."""
    for module in model.modules():
        if type(module) in stand_ins:
            module.__class__ = stand_ins[type(module)]
    return model


def _ring_rolls(ws: int, e: int):
    """The four ``torch.roll`` shifts that bring a window's ring into it, as
    the Focal Transformer code rolls K and V, each with the positions it keeps
    (True = outside the query window)."""
    keep = []
    for shifts in ((-e, -e), (-e, e), (e, -e), (e, e)):  # torch.roll shifts: tl, tr, bl, br
        m = torch.ones(ws, ws, dtype=torch.bool)
        rows = slice(None, -e) if shifts[0] < 0 else slice(e, None)
        cols = slice(None, -e) if shifts[1] < 0 else slice(e, None)
        m[rows, cols] = False
        keep.append((shifts, m.flatten()))
    return keep


class RolledFocalAttention(FocalAttention):
    """Focal attention computed the way microsoft/Focal-Transformer's
    ``classification/focal_transformer.py`` does: the ring from four rolled
    full-size copies of K and V, pooled neighbourhoods with unfold, the
    attention matrix materialised, biases looked up from explicit
    coordinates. An mmfreq restatement, not that code: padding is masked as
    in :class:`FocalAttention` (the released model has one input size), and
    the parameters are :class:`FocalAttention`'s."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rolled_focal_attention(self, x)


def rolled_focal_attention(m: FocalAttention, x: torch.Tensor) -> torch.Tensor:
    """:class:`RolledFocalAttention`'s computation for the parameters of ``m``."""
    b, h, w, c = x.shape
    ws, e, heads = m.window_size, m.expand_size, m.num_heads
    hp, wp = math.ceil(h / ws) * ws, math.ceil(w / ws) * ws
    x = F.pad(x, (0, 0, 0, wp - w, 0, hp - h))
    real = torch.zeros(b, hp, wp, 1)
    real[:, :h, :w] = 1
    q, k, v = m.qkv(x).chunk(3, dim=-1)

    def windows(t):
        return t.view(b, hp // ws, ws, wp // ws, ws, -1).permute(0, 1, 3, 2, 4, 5).reshape(
            -1, ws * ws, t.shape[-1])

    keys, values, valid = [windows(k)], [windows(v)], [windows(real)]
    area = ws * ws
    coords = torch.tensor([(i, j) for i in range(ws) for j in range(ws)])
    own_index = ((coords[:, None, 0] - coords[None, :, 0] + ws - 1) * (2 * ws - 1)
                 + coords[:, None, 1] - coords[None, :, 1] + ws - 1)
    biases = [m.relative_position_bias_table[own_index].permute(2, 0, 1)]
    if e > 0 and min(h, w) > ws:
        for shifts, keep in _ring_rolls(ws, e):
            for t, out in ((k, keys), (v, values), (real, valid)):
                out.append(windows(torch.roll(t, shifts, dims=(1, 2)))[:, keep])
        biases.append(m.relative_position_bias_table_to_neighbors[0])
    if m.pooled:
        nh, nw = hp // ws, wp // ws
        xw = windows(x)  # (B*nW, area, C)
        pool = m.pool_layers[0]
        pooled = (xw.transpose(1, 2) @ pool.weight.t() + pool.bias)[..., 0].view(b, nh, nw, c)
        _, kp, vp = m.qkv(pooled).chunk(3, dim=-1)
        fw = m.focal_window

        def unfold(t):  # (B, nh, nw, C') -> (B*nW, fw*fw, C')
            cols = F.unfold(t.permute(0, 3, 1, 2), fw, padding=fw // 2)
            return cols.view(b, t.shape[-1], fw * fw, nh * nw).permute(0, 3, 2, 1).reshape(
                b * nh * nw, fw * fw, -1)

        keys.append(unfold(kp))
        values.append(unfold(vp))
        valid.append(unfold(torch.ones(b, nh, nw, 1)))
        kc = torch.tensor([(i, j) for i in range(fw) for j in range(fw)])
        pooled_index = ((coords[:, None, 0] - kc[None, :, 0] + fw - 1) * (ws + fw - 1)
                        + coords[:, None, 1] - kc[None, :, 1] + fw - 1)
        biases.append(m.relative_position_bias_table_to_windows[0][:, pooled_index])
    k_all, v_all = torch.cat(keys, 1), torch.cat(values, 1)
    valid_all = torch.cat(valid, 1)[..., 0] > 0  # (B*nW, keys)
    split = lambda t: t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)  # noqa: E731
    qw, kw, vw = split(windows(q)) * m.scale, split(k_all), split(v_all)
    logits = qw @ kw.transpose(-1, -2) + torch.cat(biases, -1)
    logits = logits.masked_fill(~valid_all[:, None, None, :], float('-inf'))
    out = logits.softmax(-1) @ vw
    if m.att_inv is not None:
        out = m.att_inv(windows(x), out, vw[:, :, :area])
    out = out.transpose(1, 2).reshape(-1, area, c)
    out = out.view(b, hp // ws, wp // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return m.proj(out.reshape(b, hp, wp, c)[:, :h, :w])


class PaperAAConv2d(AAConv2d):
    """AAConv2d in the paper formulation (Bello et al., ICCV 2019, section
    3.1.1; the paper released no code): the logits ``q_i . (k_j + r^W + r^H)``
    for every query/key pair from an explicit (HW, HW, d) offset-embedding
    tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return paper_aa_conv(self, x)


def paper_aa_conv(m: AAConv2d, x: torch.Tensor) -> torch.Tensor:
    """:class:`PaperAAConv2d`'s computation for the parameters of ``m``,
    written out from ``m``'s convolutions and tables alone."""
    if m.stride > 1:
        x_att = F.avg_pool2d(x, m.kernel_size, m.stride, m.kernel_size // 2,
                             count_include_pad=False)
    else:
        x_att = x
    b, _, h, w = x_att.shape
    q, k, v = m.qkv(x_att).split([m.key_channels, m.key_channels, m.value_channels], 1)
    q, k, v = (t.reshape(b, m.num_heads, -1, h * w).transpose(-1, -2) for t in (q, k, v))
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    max_offset = (m.rel_table_w.shape[0] - 1) // 2
    dx = (xs[None, :] - xs[:, None]).clamp(-max_offset, max_offset) + max_offset
    dy = (ys[None, :] - ys[:, None]).clamp(-max_offset, max_offset) + max_offset
    r = m.rel_table_w[dx] + m.rel_table_h[dy]  # (HW, HW, d): key position relative to query
    logits = (q @ k.transpose(-1, -2) + torch.einsum('bnid,ijd->bnij', q, r))
    logits = logits / q.shape[-1] ** 0.5
    out = logits.softmax(-1) @ v
    out = m.proj(out.transpose(-1, -2).reshape(b, m.value_channels, h, w))
    return out if m.conv is None else torch.cat([m.conv(x), out], 1)


class MaterialisedAttInvAttention(AttInvAttention):
    """AttInv attention with A = softmax(QK^T / sqrt(d)) held as an N x N matrix."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(-1)
        out = self.att_inv(x, attn @ v, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class ExplicitAttInvAttention(AttInvAttention):
    """AttInv attention in the steps of the FDAM code's ``Attention``
    (``FDAM_mmseg/mmcv_custom/deit_fdam.py``, FDAM @210232f): the gates from
    StarReLU(x), each repeated over its head's channels, the softmax
    attention held as an N x N matrix, then ``x + x a g_lf`` and
    ``+ (V - AV) b g_hf`` one after the other. An mmfreq restatement with
    :class:`AttInvAttention`'s parameters, not that code."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        heads, inv = self.num_heads, self.att_inv
        q, k, v = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = ((q * (c // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        if inv is None:
            return self.proj(out)
        feat = inv.gate_act(x)
        highpass = v.permute(0, 2, 1, 3).reshape(b, n, c) - out
        if inv.lowpass_gate is not None:
            gate = torch.tanh(inv.lowpass_gate(feat)).repeat_interleave(c // heads, dim=-1)
            out = out + out * gate * inv.lowpass_gamma
        if inv.highpass_gate is not None:
            s2 = F.softplus(inv.highpass_gate(feat)) ** 2
            gate = (2 * s2 / (s2 + 0.3678)).repeat_interleave(c // heads, dim=-1)
            out = out + gate * highpass * inv.highpass_gamma
        return self.proj(out)


def fft_freq_scale(m: FreqScale, x: torch.Tensor) -> torch.Tensor:
    """FreqScale(x) for a (B, C, H, W) map in the steps of the FDAM code's
    ``GroupDynamicScale`` (FDAM @210232f), with ``m``'s parameters: rfft2 of
    the map as given (fp32), the router on its spatial mean, the basis
    resized and mixed per group with einsum, the spectrum's real and
    imaginary parts scaled and stacked back into a complex tensor, irfft2."""
    b, c, h, w = x.shape
    spectrum = torch.fft.rfft2(x.float(), dim=(2, 3), norm='ortho')
    alpha = torch.tanh(m.router(x.permute(0, 2, 3, 1).mean(dim=(1, 2))))
    basis = m.basis
    if basis.shape[2:] != spectrum.shape[2:]:
        basis = F.interpolate(basis, size=spectrum.shape[2:], mode='bicubic', align_corners=True)
    filters = torch.einsum('bgf,fchw->bgchw', alpha.view(b, -1, m.num_filters), basis)
    filters = filters.reshape(b, c, *spectrum.shape[2:])
    spectrum = torch.view_as_complex(
        torch.stack([spectrum.real * filters, spectrum.imag * filters], dim=-1))
    return torch.fft.irfft2(spectrum, s=(h, w), dim=(2, 3), norm='ortho')


class ExplicitFDAMBlock(FDAMBlock):
    """:class:`FDAMBlock` in the steps of the FDAM code's
    ``Layer_scale_init_Block`` (FDAM @210232f): each FreqScale
    (:func:`fft_freq_scale`) on the tokens viewed channels-first
    (``nlc_to_nchw``), added to them and made token-major again
    (``nchw_to_nlc``, a contiguous copy) before the layer scale. Its attention
    is an :class:`ExplicitAttInvAttention` in :class:`ExplicitFDAMDeiT3`."""

    @staticmethod
    def _with_freq_scale(y: torch.Tensor, freq_scale, hw_shape) -> torch.Tensor:
        if freq_scale is None:
            return y
        grid = y.transpose(1, 2).reshape(y.shape[0], y.shape[2], *hw_shape)
        return (fft_freq_scale(freq_scale, grid) + grid).flatten(2).transpose(1, 2) \
            .contiguous()

    def _forward(self, x: torch.Tensor, hw_shape) -> torch.Tensor:
        y = self._with_freq_scale(self.attn(self.norm1(x)), self.attn_freq_scale, hw_shape)
        x = x + self.drop_path(self.gamma_1 * y)
        z = self._with_freq_scale(self.ffn(self.norm2(x)), self.ffn_freq_scale, hw_shape)
        return x + self.drop_path(self.gamma_2 * z)


class ExplicitFDAMDeiT3(FDAMDeiT3):
    """An :class:`FDAMDeiT3` (same arguments, parameters and names) whose blocks
    are :class:`ExplicitFDAMBlock` with :class:`ExplicitAttInvAttention`: AttInv
    and FreqScale in the FDAM code's steps, around mmfreq's stem, norms and
    FFN. Load an FDAMDeiT3's state dict into it to compare the two."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        swap_layer_types(self, {FDAMBlock: ExplicitFDAMBlock,
                                AttInvAttention: ExplicitAttInvAttention})
