"""AttInv from FDAM (Chen et al., ICCV 2025): softmax attention is a low-pass filter,
so ``V - AV`` is the high-pass part it throws away; AttInv adds both back with
per-token, per-head gates and per-channel gammas."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .star_relu import StarReLU

# The official code's constant (about 1/e): the high-pass gate is 1 where s^2 = 0.3678.
_HIGHPASS_HALF_POINT = 0.3678


class AttInv(nn.Module):
    """Frequency modulation of an attention output.

    With ``lowpass = AV`` (the attention output) and ``highpass = V - AV``::

        out = lowpass + lowpass * a(x) * gamma_lf + highpass * b(x) * gamma_hf
        a(x) = tanh(W_a StarReLU(x)),  b(x) = 2 s^2 / (s^2 + 0.3678),
        s = softplus(W_b StarReLU(x))

    ``a`` and ``b`` are per token and head, the gammas per channel, from
    ``gamma_init``: a fresh AttInv is almost the identity.

    Args:
        embed_dims (int): Channels C of the tokens (all heads together).
        num_heads (int): Heads; C must be divisible by it.
        lowpass (bool): Use the low-pass term (``a``, ``gamma_lf``).
        highpass (bool): Use the high-pass term (``b``, ``gamma_hf``).
        gamma_init (float): Initial value of the gammas. Defaults to 1e-5.

    Shape:
        x: (..., N, C), the attention's input; attn_out, value: (..., heads, N,
        C / heads) -> (..., heads, N, C / heads); leading dims batch (and window).
    """

    def __init__(self, embed_dims: int, num_heads: int, lowpass: bool = True,
                 highpass: bool = True, gamma_init: float = 1e-5) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'AttInv: embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        if not (lowpass or highpass):
            raise ValueError('AttInv: switch on lowpass, highpass or both '
                             '(with neither, leave AttInv out)')
        self.num_heads = num_heads
        self.gamma_init = gamma_init  # the reference of mmfreq.analysis.fdam_diagnostics
        self.gate_act = StarReLU()
        self.lowpass_gate = nn.Linear(embed_dims, num_heads) if lowpass else None
        self.lowpass_gamma = nn.Parameter(torch.full((embed_dims,), gamma_init)) \
            if lowpass else None
        self.highpass_gate = nn.Linear(embed_dims, num_heads) if highpass else None
        self.highpass_gamma = nn.Parameter(torch.full((embed_dims,), gamma_init)) \
            if highpass else None

    def _gate_logits(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # gate(StarReLU(x)) of each gate present (low-pass first), each (..., heads, N, 1),
        # by one matmul: StarReLU's scalar scale s and bias t commute with a Linear,
        # W (s r + t) + c = s (W r) + (t W 1 + c) with r = relu(x)^2, so only r is
        # computed per channel (two passes over x, not four); heads-major, so each
        # gate is contiguous
        gates = [g for g in (self.lowpass_gate, self.highpass_gate) if g is not None]
        weight = torch.cat([g.weight for g in gates])
        bias = torch.cat([g.bias for g in gates])
        act = self.gate_act
        logits = F.linear(x.clamp(min=0).square_(), weight)
        logits = logits.transpose(-1, -2).contiguous()  # (..., gates * heads, N)
        logits = torch.addcmul((act.bias * weight.sum(dim=1) + bias)[:, None], logits, act.scale)
        return logits.unsqueeze(-1).split(self.num_heads, dim=-3)

    def _per_channel(self, gamma: torch.Tensor) -> torch.Tensor:
        # (C,) -> (heads, 1, C / heads), channel c = head * C / heads + j
        return gamma.view(self.num_heads, 1, -1)

    def forward(self, x: torch.Tensor, attn_out: torch.Tensor,
                value: torch.Tensor) -> torch.Tensor:
        logits = self._gate_logits(x)
        # out = AV (1 + a g_lf - b g_hf) + V b g_hf: four passes over
        # (..., heads, N, d) instead of seven
        neg_highpass = None
        if self.highpass_gate is not None:
            s2 = F.softplus(logits[-1]).square_()
            neg_highpass = (-2 * s2 / (s2 + _HIGHPASS_HALF_POINT)) * \
                self._per_channel(self.highpass_gamma)
        coeff = neg_highpass
        if self.lowpass_gate is not None:
            a = torch.tanh(logits[0])
            gamma = self._per_channel(self.lowpass_gamma)
            coeff = a * gamma if coeff is None else torch.addcmul(coeff, a, gamma)
        out = torch.addcmul(attn_out, attn_out, coeff)
        if neg_highpass is not None:
            out = out.addcmul_(value, neg_highpass, value=-1)
        return out


class AttInvAttention(nn.Module):
    """Multi-head self-attention over all tokens, optionally with AttInv.

    ``AV`` comes from ``scaled_dot_product_attention`` (no N x N matrix). With
    ``att_inv=False``, the plain ViT attention (``qkv``, ``proj`` as in timm).

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        qkv_bias (bool): Bias of the qkv projection. Defaults to True.
        attn_drop, proj_drop (float): Dropout on the attention weights, after
            the output projection. Default to 0.
        att_inv (bool): Add AttInv (both low- and high-pass terms).
        gamma_init (float): Initial AttInv gammas. Defaults to 1e-5.

    Shape: (B, N, C) -> (B, N, C).
    """

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, att_inv: bool = True,
                 gamma_init: float = 1e-5) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'AttInvAttention: embed_dims={embed_dims} is not divisible '
                             f'by num_heads={num_heads}')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.att_inv = AttInv(embed_dims, num_heads, gamma_init=gamma_init) if att_inv else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        if self.att_inv is not None:
            out = self.att_inv(x, out, v)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, c)))
