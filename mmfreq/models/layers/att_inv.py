"""AttInv from FDAM (Chen et al., ICCV 2025): softmax attention is a low-pass filter,
so ``V - AV`` is the high-pass part it throws away; AttInv adds both back with
per-token, per-head gates and per-channel gammas."""
from typing import Optional, Tuple

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
        # computed per channel; heads-major, so each gate is contiguous
        gates = [g for g in (self.lowpass_gate, self.highpass_gate) if g is not None]
        weight = torch.cat([g.weight for g in gates])
        bias = torch.cat([g.bias for g in gates])
        act = self.gate_act
        logits = _ReluSquareLinear.apply(x, weight).transpose(-1, -2).contiguous()
        logits = torch.addcmul((act.bias * weight.sum(dim=1) + bias)[:, None], logits, act.scale)
        return logits.unsqueeze(-1).split(self.num_heads, dim=-3)

    def _per_channel(self, gamma: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        # (C,) -> (heads, 1, C / heads), channel c = head * C / heads + j
        return None if gamma is None else gamma.view(self.num_heads, 1, -1)

    def forward(self, x: torch.Tensor, attn_out: torch.Tensor,
                value: torch.Tensor) -> torch.Tensor:
        logits = self._gate_logits(x)
        lowpass = torch.tanh(logits[0]) if self.lowpass_gate is not None else None
        highpass = None
        if self.highpass_gate is not None:
            s2 = F.softplus(logits[-1]).square_()
            highpass = 2 * s2 / (s2 + _HIGHPASS_HALF_POINT)
        return _Modulate.apply(attn_out, value, lowpass, self._per_channel(self.lowpass_gamma),
                               highpass, self._per_channel(self.highpass_gamma))


class _ReluSquareLinear(torch.autograd.Function):
    """``F.linear(relu(x) ** 2, weight)`` keeping ``x`` for backward, which the
    attention's projections keep anyway, and rebuilding ``relu(x) ** 2`` there
    (autograd would keep it: one more (..., N, C) map per AttInv)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.linear(x.clamp(min=0).square_(), weight)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        x, weight = ctx.saved_tensors
        relu = x.clamp(min=0).to(grad.dtype)  # autocast ran the forward in grad's dtype
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad @ weight.to(grad.dtype)).mul_(relu).mul_(2)
        if ctx.needs_input_grad[1]:
            grad_weight = grad.flatten(0, -2).t() @ relu.square_().flatten(0, -2)
        return grad_x, grad_weight


class _Modulate(torch.autograd.Function):
    """``AV (1 + a g_lf - b g_hf) + V b g_hf`` for the gates ``a``, ``b``
    (..., heads, N, 1) and gammas ``g`` (heads, 1, d); a term is left out where
    its gate is None. Keeps only its inputs for backward (the attention keeps
    ``AV`` and ``V`` anyway), where autograd would keep two more full-size
    coefficient maps; the products with the rank-one ``a g`` become matmuls."""

    @staticmethod
    def forward(ctx, attn_out: torch.Tensor, value: torch.Tensor,
                lowpass: Optional[torch.Tensor], lowpass_gamma: Optional[torch.Tensor],
                highpass: Optional[torch.Tensor], highpass_gamma: Optional[torch.Tensor]
                ) -> torch.Tensor:
        ctx.save_for_backward(attn_out, value, lowpass, lowpass_gamma, highpass, highpass_gamma)
        coeff, neg_highpass = _coefficients(lowpass, lowpass_gamma, highpass, highpass_gamma)
        out = torch.addcmul(attn_out, attn_out, coeff)
        if neg_highpass is not None:
            out = out.addcmul_(value, neg_highpass, value=-1)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        attn_out, value, lowpass, lowpass_gamma, highpass, highpass_gamma = ctx.saved_tensors
        coeff, neg_highpass = _coefficients(lowpass, lowpass_gamma, highpass, highpass_gamma)
        grad_attn_out = torch.addcmul(grad, grad, coeff)
        grad_value = None if neg_highpass is None else grad * neg_highpass.neg_()
        grads = [grad_attn_out, grad_value]
        # d out / d a = AV g_lf, d out / d b = (V - AV) g_hf: per head, (grad * AV) @ g_lf^T
        # and a^T @ (grad * AV) summed over the batch
        lowpass_part = grad * attn_out
        for gate, gamma, part in ((lowpass, lowpass_gamma, lowpass_part),
                                  (highpass, highpass_gamma, None)):
            if gate is None:
                grads += [None, None]
                continue
            if part is None:
                part = torch.sub(grad * value, lowpass_part)
            grads.append(part @ gamma.to(part.dtype).transpose(-1, -2))
            grads.append((gate.to(part.dtype).transpose(-1, -2) @ part).sum_to_size(gamma.shape))
        return tuple(grads)


def _coefficients(lowpass: Optional[torch.Tensor], lowpass_gamma: Optional[torch.Tensor],
                  highpass: Optional[torch.Tensor], highpass_gamma: Optional[torch.Tensor]
                  ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    # (a g_lf - b g_hf, -b g_hf) as (..., heads, N, d) maps (the second None without b)
    neg_highpass = None if highpass is None else highpass * -highpass_gamma
    if lowpass is None:
        return neg_highpass, neg_highpass
    if neg_highpass is None:
        return lowpass * lowpass_gamma, None
    return torch.addcmul(neg_highpass, lowpass, lowpass_gamma), neg_highpass


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
