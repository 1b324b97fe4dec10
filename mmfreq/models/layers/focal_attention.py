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

The keys are gathered by index rather than from the official code's rolled
copies of K and V; how, and against the official code: docs/backbones.md.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .att_inv import AttInv

Offsets = List[Tuple[int, int]]


def window_offsets(window_size: int, expand_size: int) -> Tuple[Offsets, Offsets]:
    """Positions (dy, dx), relative to a window's top-left token, of its own keys and its
    ring keys.

    Returns:
        own: ws * ws offsets in row-major order.
        ring: 4 * ws^2 - 4 * (ws - e)^2 offsets in the official order: the
        windows shifted by (+e, +e), (+e, -e), (-e, +e), (-e, -e), each
        row-major, without the tokens that lie inside the query window.
    """
    ws, e = window_size, expand_size
    own = [(dy, dx) for dy in range(ws) for dx in range(ws)]
    ring = [(dy + sy, dx + sx) for sy, sx in ((e, e), (e, -e), (-e, e), (-e, -e))
            for dy, dx in own if not (0 <= dy + sy < ws and 0 <= dx + sx < ws)]
    return own, ring


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


def key_layout(window_size: int, expand_size: int, focal_window: int, pooled: bool,
               hw: Tuple[int, int], device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Where each window's keys come from, for an (H, W) map padded to window multiples.

    It depends on these arguments only (not on the weights or the batch). A
    key's row and column depend on the window's row and column alone, so both
    outputs are one broadcast sum of a per-window-row and a per-window-column part.

    Returns:
        index: (windows, keys) flat indices into the padded map's tokens
            followed by the pooled map padded by focal_window // 2.
        mask: (windows, keys) fp32, -inf for padding and out-of-map pooled
            slots, else 0.
    """
    (h, w), ws = hw, window_size
    # ceil division with non-negative operands: ONNX's integer Div truncates
    nh, nw = (h + ws - 1) // ws, (w + ws - 1) // ws
    hp, wp = nh * ws, nw * ws
    own, ring = window_offsets(ws, expand_size)
    offsets = torch.tensor(own + ring if uses_ring(ws, expand_size, hw) else own,
                           device=device)
    wy = torch.arange(nh, device=device)[:, None]
    wx = torch.arange(nw, device=device)[:, None]
    # the ring wraps around, as torch.roll (kept non-negative for ONNX's Mod)
    ys = (wy * ws + offsets[:, 0] + hp) % hp
    xs = (wx * ws + offsets[:, 1] + wp) % wp
    rows, cols, rows_valid, cols_valid = [ys * wp], [xs], [ys < h], [xs < w]
    if pooled:
        fw, r = focal_window, focal_window // 2
        grid = torch.arange(fw, device=device)
        py = wy + grid.repeat_interleave(fw)  # rows of the pooled map padded by r
        px = wx + grid.repeat(fw)
        rows.append(hp * wp + py * (nw + 2 * r))
        cols.append(px)
        rows_valid.append((py >= r) & (py < nh + r))
        cols_valid.append((px >= r) & (px < nw + r))

    def additive(valid: list) -> torch.Tensor:
        return torch.where(torch.cat(valid, 1), 0.0, float('-inf'))

    index = torch.cat(rows, 1)[:, None] + torch.cat(cols, 1)[None]
    mask = additive(rows_valid)[:, None] + additive(cols_valid)[None]
    return index.flatten(0, 1), mask.flatten(0, 1)


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

    # read by the ONNX exporter (mmfreq.deployment.onnx), which refuses --dynamic
    fixed_size_export = ('decides in Python, from the traced size, whether a map has ring '
                         'keys (one larger than a window) and how many windows one attention '
                         'call takes, so its graph holds for sizes near the traced one only')

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws, heads, area = self.window_size, self.num_heads, self.window_size**2
        d = c // heads
        nh, nw = (h + ws - 1) // ws, (w + ws - 1) // ws
        hp, wp = nh * ws, nw * ws
        if (hp, wp) != (h, w):
            x = F.pad(x, (0, 0, 0, wp - w, 0, hp - h))
        q, kv = self.qkv(x).split([c, 2 * c], dim=-1)
        # keys and values of every token (and pooled token) as (B, 2, heads, tokens, d):
        # the rows gathered for one head and window are one contiguous (keys, d) matrix
        tokens = [kv.reshape(b, hp * wp, 2, heads, d).permute(0, 2, 3, 1, 4)]
        if self.pooled:
            # only K and V of the pooled tokens are needed: the kv rows of qkv
            r = self.focal_window // 2
            pooled = F.linear(self.pool_windows(x), self.qkv.weight[c:],
                              None if self.qkv.bias is None else self.qkv.bias[c:])
            pooled = F.pad(pooled, (0, 0, r, r, r, r)).reshape(b, -1, 2, heads, d)
            tokens.append(pooled.permute(0, 2, 3, 1, 4))
        table = torch.cat(tokens, 3)
        index, mask = key_layout(ws, self.expand_size, self.focal_window, self.pooled, (h, w),
                                 x.device)
        keys = index.shape[1]
        q = q.reshape(b, nh, ws, nw, ws, heads, d).permute(0, 5, 1, 3, 2, 4, 6).reshape(
            b, heads, nh * nw, area, d)
        # biases and masks as one additive attn_mask, broadcast over the batch
        bias = self.position_bias(self.uses_ring((h, w))).to(q.dtype)[:, None]
        mask = mask.to(q.dtype)[:, None]  # (windows, 1, keys)

        chunk = max(1, self.max_bias_elements // (b * heads * area * keys))
        dropout = self.attn_drop if self.training else 0.0
        outs = []
        for start in range(0, nh * nw, chunk):
            part = slice(start, start + chunk)
            q_part = q[:, :, part]
            n = q_part.shape[2]
            k, v = table.index_select(3, index[part].flatten()).view(
                b, 2, heads * n, keys, d).unbind(1)
            outs.append(F.scaled_dot_product_attention(
                q_part.reshape(b, heads * n, area, d), k, v,
                attn_mask=(bias + mask[part]).view(1, heads * n, area, keys),
                dropout_p=dropout, scale=self.scale).view(b, heads, n, area, d))
        out = (outs[0] if len(outs) == 1 else torch.cat(outs, 2)).transpose(1, 2)
        if self.att_inv is not None:
            x_windows = x.reshape(b, nh, ws, nw, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(
                b, nh * nw, area, c)
            value = kv[..., c:].reshape(b, nh, ws, nw, ws, heads, d).permute(
                0, 1, 3, 5, 2, 4, 6).reshape(b, nh * nw, heads, area, d)
            out = self.att_inv(x_windows, out, value)
        out = out.reshape(b, nh, nw, heads, ws, ws, d)
        out = out.permute(0, 1, 4, 2, 5, 3, 6).reshape(b, hp, wp, c)[:, :h, :w]
        return self.proj_drop(self.proj(out))
