"""Focal self-attention (Yang et al., "Focal Self-attention for Local-Global
Interactions in Vision Transformers", NeurIPS 2021), for any feature size.

Every 7x7 query window attends three groups of keys, each with its own
learned relative position bias:

1. its own 49 tokens;
2. the ring of ``expand_size`` tokens around it: as in the official code, the
   keys of the four diagonally shifted windows (shifts of +-expand_size, with
   wrap-around at the map border) minus the part inside the query window, 132
   keys for window 7 and expand 3, twelve of them listed twice;
3. the ``focal_window x focal_window`` neighbourhood of pooled tokens (each
   window pooled to one token by a learned weighted sum), centred on it.

The official code builds the ring from four rolled full-size copies of K and
V and the pooled neighbourhoods with ``nn.Unfold``. Here each window gathers
exactly the keys it attends, by index, from a token-major table of keys and
values, and ``scaled_dot_product_attention`` takes the biases and masks as
one additive tensor, computed for a chunk of windows at a time. The map is
padded to window multiples and padded tokens are masked out of every group.
The backward pass (:class:`GatheredWindowAttention`) recomputes each chunk's
gather and attention matrix instead of keeping them.
"""
import functools
import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .att_inv import AttInv


def window_offsets(window_size: int, expand_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Positions, relative to a window's top-left token, of its own keys and its ring keys.

    Returns:
        own: (ws * ws, 2) (dy, dx) in row-major order.
        ring: (4 * ws^2 - 4 * (ws - e)^2, 2) in the official order: the windows
        shifted by (+e, +e), (+e, -e), (-e, +e), (-e, -e), each row-major,
        without the tokens that lie inside the query window.
    """
    ws, e = window_size, expand_size
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij')
    own = torch.stack([ys.flatten(), xs.flatten()], 1)
    ring = []
    for sy, sx in ((e, e), (e, -e), (-e, e), (-e, -e)):
        shifted = own + torch.tensor([sy, sx])
        inside = ((shifted >= 0) & (shifted < ws)).all(1)
        ring.append(shifted[~inside])
    return own, torch.cat(ring)


def relative_position_index(query_size: int, key_size: int) -> torch.Tensor:
    """(q*q, k*k) index of the offset between each query and key position.

    Offsets (dy, dx), each in [-(k - 1), q - 1], index a table of
    (q + k - 1)^2 entries row-major, as in the official code.
    """
    q = torch.stack(torch.meshgrid(torch.arange(query_size), torch.arange(query_size),
                                   indexing='ij')).flatten(1)
    k = torch.stack(torch.meshgrid(torch.arange(key_size), torch.arange(key_size),
                                   indexing='ij')).flatten(1)
    rel = q[:, :, None] - k[:, None, :] + key_size - 1  # 2, q*q, k*k
    return rel[0] * (query_size + key_size - 1) + rel[1]


def uses_ring(window_size: int, expand_size: int, hw: Tuple[int, int]) -> bool:
    """Whether a map of size ``hw`` gets ring keys: one larger than a window."""
    return expand_size > 0 and min(hw) > window_size


@functools.lru_cache(maxsize=8)
def key_layout(window_size: int, expand_size: int, focal_window: int, pooled: bool,
               hw: Tuple[int, int], device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Where each window's keys come from, for an (H, W) map padded to window multiples.

    Kept for the last few arguments, which are all it depends on (not the
    weights), so the blocks of a stage share one: building it costs a
    visible share of a block (measured, 2 CPU threads, stage 1 of a
    1280x800 image, 200x320 tokens: 442 ms against a 3.7 s attention
    forward). Callers must not change the tensors in place.

    Returns:
        index: (windows, keys) flat indices into the padded map's tokens
            followed by the pooled map padded by focal_window // 2.
        masked: (windows, keys) fp32, -inf for padding and out-of-map pooled
            slots, else 0.
    """
    (h, w), ws = hw, window_size
    nh, nw = math.ceil(h / ws), math.ceil(w / ws)
    hp, wp = nh * ws, nw * ws
    wy, wx = torch.meshgrid(torch.arange(nh, device=device), torch.arange(nw, device=device),
                            indexing='ij')
    origins = torch.stack([wy.flatten(), wx.flatten()], 1) * ws  # (windows, 2)
    own, ring = window_offsets(ws, expand_size)
    offsets = torch.cat([own, ring]) if uses_ring(ws, expand_size, hw) else own
    pos = origins[:, None, :] + offsets.to(device)[None]
    ys, xs = pos[..., 0] % hp, pos[..., 1] % wp  # the ring wraps around, as torch.roll
    index, valid = [ys * wp + xs], [(ys < h) & (xs < w)]
    if pooled:
        fw, r = focal_window, focal_window // 2
        a, b = torch.meshgrid(torch.arange(fw, device=device), torch.arange(fw, device=device),
                              indexing='ij')
        py = wy.flatten()[:, None] + a.flatten()[None]  # rows of the map padded by r
        px = wx.flatten()[:, None] + b.flatten()[None]
        index.append(hp * wp + py * (nw + 2 * r) + px)
        valid.append((py >= r) & (py < nh + r) & (px >= r) & (px < nw + r))
    valid = torch.cat(valid, 1)
    masked = torch.zeros(valid.shape, device=device).masked_fill_(~valid, float('-inf'))
    return torch.cat(index, 1), masked


class FocalAttention(nn.Module):
    """Focal self-attention with a fine ring and one pooled level.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        window_size (int): Query window (and pooling window) side. Defaults to 7.
        expand_size (int): Ring width; 0 for no ring. Defaults to 3.
        focal_window (int): Side of the pooled-token neighbourhood. Defaults to 7.
        focal_level (int): 2 for own window + ring + pooled tokens (the
            published models), 1 for own window + ring only.
        qkv_bias (bool): Defaults to True.
        attn_drop (float): Attention-weight dropout. Defaults to 0.
        proj_drop (float): Output dropout. Defaults to 0.
        max_bias_elements (int): Windows are processed in chunks whose bias
            tensor holds at most this many elements. Defaults to 2**21.
        att_inv (bool): Add FDAM's AttInv to the output (the high-pass part is
            each query token's own value minus its attention output).

    Shape:
        (B, H, W, C) -> (B, H, W, C), any H, W. The ring is left out when the
        map is no larger than one window (min(H, W) <= window_size), as the
        official model is built then.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int = 7,
                 expand_size: int = 3, focal_window: int = 7, focal_level: int = 2,
                 qkv_bias: bool = True, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 max_bias_elements: int = 2**21, att_inv: bool = False) -> None:
        super().__init__()
        if focal_level not in (1, 2):
            raise ValueError(f'FocalAttention: focal_level={focal_level}; 1 (window and ring) '
                             'and 2 (plus pooled windows, the published models) are built')
        if embed_dims % num_heads:
            raise ValueError(f'FocalAttention: embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        if not 0 <= expand_size < window_size:
            raise ValueError(f'FocalAttention: expand_size={expand_size} must be in '
                             f'[0, window_size={window_size})')
        self.num_heads, self.window_size, self.expand_size = num_heads, window_size, expand_size
        self.focal_window, self.pooled = focal_window, focal_level == 2
        self.scale = (embed_dims // num_heads) ** -0.5
        self.attn_drop, self.max_bias_elements = attn_drop, max_bias_elements
        ws, area = window_size, window_size**2

        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.att_inv = AttInv(embed_dims, num_heads) if att_inv else None

        ring_keys = len(window_offsets(ws, expand_size)[1])
        # zeros, unlike the ring and pooled tables: the official Focal code
        # (classification/focal_transformer.py, WindowAttention) leaves this one
        # at zero where Swin draws it from trunc_normal(std=0.02)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws - 1)**2, num_heads))
        self.register_buffer('relative_position_index', relative_position_index(ws, ws),
                             persistent=False)
        if expand_size:
            self.relative_position_bias_table_to_neighbors = nn.Parameter(
                torch.empty(1, num_heads, area, ring_keys))
            nn.init.trunc_normal_(self.relative_position_bias_table_to_neighbors, std=0.02)
        if self.pooled:
            self.pool_layers = nn.ModuleList([nn.Linear(area, 1)])
            nn.init.constant_(self.pool_layers[0].weight, 1 / area)  # start as the mean
            nn.init.zeros_(self.pool_layers[0].bias)
            table = torch.empty(num_heads, (ws + focal_window - 1)**2)
            nn.init.trunc_normal_(table, std=0.02)
            self.relative_position_bias_table_to_windows = nn.ParameterList([table])
            self.register_buffer('relative_position_index_pooled',
                                 relative_position_index(ws, focal_window), persistent=False)

    def uses_ring(self, hw: Tuple[int, int]) -> bool:
        """Whether a map of size ``hw`` gets ring keys (larger than one window)."""
        return uses_ring(self.window_size, self.expand_size, hw)

    def position_bias(self, with_ring: bool) -> torch.Tensor:
        """(heads, ws*ws, keys) relative position bias of all key groups, in key order."""
        area = self.window_size**2
        own = self.relative_position_bias_table[self.relative_position_index.flatten()]
        parts = [own.view(area, area, -1).permute(2, 0, 1)]
        if with_ring:
            parts.append(self.relative_position_bias_table_to_neighbors[0])
        if self.pooled:
            table = self.relative_position_bias_table_to_windows[0]
            parts.append(table[:, self.relative_position_index_pooled.flatten()].view(
                self.num_heads, area, -1))
        return torch.cat(parts, -1)

    def pool_windows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Hp, Wp, C) -> (B, Hp / ws, Wp / ws, C): one learned weighted sum per window."""
        b, hp, wp, c = x.shape
        ws = self.window_size
        windows = x.view(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 5, 2, 4)
        return self.pool_layers[0](windows.reshape(b, hp // ws, wp // ws, c, ws * ws))[..., 0]

    def _attend_with_dropout(self, q: torch.Tensor, table: torch.Tensor, index: torch.Tensor,
                             bias: torch.Tensor, masked: torch.Tensor, chunk: int
                             ) -> torch.Tensor:
        """:class:`GatheredWindowAttention` with dropout on the attention weights,
        through autograd: the dropout mask lives only inside the attention call."""
        out = []
        for _, q_part, rows, mask in window_chunks(q, index, masked, chunk):
            k, v = gather_keys_values(table, rows, q.shape[2])
            out.append(F.scaled_dot_product_attention(
                q_part, k, v, attn_mask=bias + mask, dropout_p=self.attn_drop,
                scale=self.scale).view(q.shape[0], -1, *q.shape[2:]))
        return torch.cat(out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws, heads, area = self.window_size, self.num_heads, self.window_size**2
        hp, wp = math.ceil(h / ws) * ws, math.ceil(w / ws) * ws
        nh, nw = hp // ws, wp // ws
        if (hp, wp) != (h, w):
            x = F.pad(x, (0, 0, 0, wp - w, 0, hp - h))
        q, kv = self.qkv(x).split([c, 2 * c], dim=-1)

        def windows(t: torch.Tensor) -> torch.Tensor:  # (B, Hp, Wp, C') -> (B, n, heads, ws*ws, d)
            t = t.reshape(b, nh, ws, nw, ws, heads, -1).permute(0, 1, 3, 5, 2, 4, 6)
            return t.reshape(b, nh * nw, heads, area, -1)

        q = windows(q)
        # every key and value a row of one table: (B * (tokens [+ pooled]), 2C)
        r = self.focal_window // 2
        pooled_tokens = (nh + 2 * r) * (nw + 2 * r) if self.pooled else 0
        table = kv.new_empty(b, hp * wp + pooled_tokens, 2 * c)
        table[:, :hp * wp] = kv.reshape(b, hp * wp, 2 * c)
        if self.pooled:
            # only K and V of the pooled tokens are needed: the kv rows of qkv
            pooled = F.linear(self.pool_windows(x), self.qkv.weight[c:],
                              None if self.qkv.bias is None else self.qkv.bias[c:])
            table[:, hp * wp:] = F.pad(pooled, (0, 0, r, r, r, r)).reshape(b, -1, 2 * c)
        index, masked = key_layout(ws, self.expand_size, self.focal_window, self.pooled, (h, w),
                                   x.device)
        masked = masked.to(q.dtype)
        index = index + torch.arange(b, device=index.device)[:, None, None] * table.shape[1]
        table = table.view(-1, 2 * c)
        bias = self.position_bias(self.uses_ring((h, w))).to(q.dtype)
        if self.att_inv is not None:
            x_windows = x.reshape(b, nh, ws, nw, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(
                b, nh * nw, area, c)

        chunk = max(1, self.max_bias_elements // (b * heads * area * index.shape[-1]))
        if self.training and self.attn_drop > 0:
            out = self._attend_with_dropout(q, table, index, bias, masked, chunk)
        else:
            out = GatheredWindowAttention.apply(q, table, index, bias, masked, self.scale, chunk)
        if self.att_inv is not None:
            out = self.att_inv(x_windows, out, windows(kv[..., c:]))
        out = out.view(b, nh, nw, heads, ws, ws, -1)
        out = out.permute(0, 1, 4, 2, 5, 3, 6).reshape(b, hp, wp, c)[:, :h, :w]
        return self.proj_drop(self.proj(out))


def gather_keys_values(table: torch.Tensor, rows: torch.Tensor, heads: int
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Keys and values (N, heads, keys, d) of rows (N, keys) of a (tokens, 2C) table."""
    gathered = torch.index_select(table, 0, rows.flatten()).view(*rows.shape, 2, heads, -1)
    return gathered[:, :, 0].transpose(1, 2), gathered[:, :, 1].transpose(1, 2)


def window_chunks(q: torch.Tensor, index: torch.Tensor, masked: torch.Tensor, chunk: int):
    """Yield (part, queries (B n, heads, L, d), rows (B n, keys), mask (B n, 1, 1, keys))
    for each chunk of n windows of q (B, windows, heads, L, d), index (B, windows,
    keys) and masked (windows, keys)."""
    b, windows = q.shape[:2]
    for start in range(0, windows, chunk):
        part = slice(start, start + chunk)
        n = min(chunk, windows - start)
        yield (part, q[:, part].reshape(b * n, *q.shape[2:]), index[:, part].reshape(b * n, -1),
               masked[part].expand(b, -1, -1).reshape(b * n, 1, 1, -1))


class GatheredWindowAttention(torch.autograd.Function):
    """``softmax(q k^T * scale + bias + mask) v`` for windows whose keys and
    values are rows of a token-major table, gathered by index, ``chunk``
    windows at a time.

    The forward pass is one fused ``scaled_dot_product_attention`` per chunk.
    The backward pass recomputes each chunk's gather and attention matrix
    instead of saving them (together about 5x the size of K and V), returns
    the bias gradient (which the fused CPU kernel does not compute, so
    autograd would use the materialised path for the forward too), and adds
    the key and value gradients into the table's rows with ``index_add_``,
    a row add per key, several times faster on CPU than autograd's scatter
    for advanced indexing.

    Inputs: q (B, windows, heads, L, d); table (tokens, 2 * heads * d);
    index (B, windows, keys) rows of the table; bias (heads, L, keys);
    masked (windows, keys) 0 / -inf, no gradient.
    """

    @staticmethod
    def forward(ctx, q: torch.Tensor, table: torch.Tensor, index: torch.Tensor,
                bias: torch.Tensor, masked: torch.Tensor, scale: float, chunk: int
                ) -> torch.Tensor:
        out = torch.empty_like(q)
        for part, q_part, rows, mask in window_chunks(q, index, masked, chunk):
            k, v = gather_keys_values(table, rows, q.shape[2])
            out[:, part] = F.scaled_dot_product_attention(
                q_part, k, v, attn_mask=bias + mask, scale=scale).view_as(out[:, part])
        ctx.save_for_backward(q, table, index, bias, masked, out)
        ctx.scale, ctx.chunk = scale, chunk
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        q, table, index, bias, masked, out = ctx.saved_tensors
        grad_q, grad_table = torch.empty_like(q), torch.zeros_like(table)
        grad_bias = torch.zeros_like(bias)
        for part, q_part, rows, mask in window_chunks(q, index, masked, ctx.chunk):
            grad_part = grad_out[:, part].reshape(q_part.shape)
            # contiguous once here rather than inside each matmul below
            k, v = (t.contiguous() for t in gather_keys_values(table, rows, q.shape[2]))
            # softmax in place: one attention-sized buffer, not two
            attn = torch.matmul(q_part, k.transpose(-1, -2)).mul_(ctx.scale).add_(bias)
            attn.add_(mask).sub_(attn.logsumexp(dim=-1, keepdim=True)).exp_()
            grad_v = torch.matmul(attn.transpose(-1, -2), grad_part)
            # d scores = attn * (d attn - sum(attn * d attn)); the sum is
            # sum(grad_out * out), computed on the small saved output instead
            delta = (grad_part * out[:, part].reshape(q_part.shape)).sum(dim=-1, keepdim=True)
            grad_scores = torch.matmul(grad_part, v.transpose(-1, -2)).sub_(delta).mul_(attn)
            del attn
            grad_q[:, part] = torch.matmul(grad_scores, k).mul_(ctx.scale).view_as(grad_q[:, part])
            grad_k = torch.matmul(grad_scores.transpose(-1, -2), q_part).mul_(ctx.scale)
            grad_bias += grad_scores.sum(dim=0)
            del grad_scores
            n, heads, keys, d = grad_k.shape
            grad_rows = table.new_empty(n, keys, 2, heads, d)  # a table row per key
            grad_rows[:, :, 0] = grad_k.transpose(1, 2)
            grad_rows[:, :, 1] = grad_v.transpose(1, 2)
            grad_table.index_add_(0, rows.flatten(), grad_rows.view(rows.numel(), -1))
        return grad_q, grad_table, None, grad_bias, None, None, None
