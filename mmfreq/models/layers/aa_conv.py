"""Attention Augmented Convolution (Bello et al., "Attention Augmented
Convolutional Networks", ICCV 2019), for feature maps of any size."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def relative_logits_1d(q: torch.Tensor, table: torch.Tensor, key_length: int = None,
                       query_start: int = 0) -> torch.Tensor:
    """``q_i . r_{j - i}`` along the last spatial axis, for every query/key pair.

    Args:
        q: (B, heads, R, L_q, d): queries at positions ``query_start`` ..
            ``query_start + L_q - 1`` of rows of ``key_length`` positions.
        table: (2M + 1, d): embeddings of offsets -M..M; larger offsets use
            the embedding of +-M.
        key_length: L_k, the number of key positions. Defaults to L_q.
        query_start: Position of the first query.

    Returns:
        (B, heads, R, L_q, L_k): entry [..., i, j] is ``q[..., i, :] . r_{j - i'}``
        with i' = query_start + i. Relative to absolute: q is multiplied with
        the L_q + L_k - 1 offsets that occur once (linear in L per query),
        then each (i, j) picks its offset.
    """
    query_length = q.shape[-2]
    key_length = key_length or query_length
    max_offset = (table.shape[0] - 1) // 2
    lowest = -(query_start + query_length - 1)
    offsets = torch.arange(lowest, key_length - query_start, device=q.device)
    per_offset = q @ table[offsets.clamp(-max_offset, max_offset) + max_offset].t()
    queries = torch.arange(query_start, query_start + query_length, device=q.device)
    index = torch.arange(key_length, device=q.device)[None, :] - queries[:, None] - lowest
    return per_offset.gather(-1, index.expand(*per_offset.shape[:-1], key_length))


class AAConv2d(nn.Module):
    """``concat(conv(x), proj(MHA(x)))`` with 2-D relative position logits.

    The convolution gives ``out_channels - d_v`` channels, multi-head
    self-attention over all positions gives ``d_v`` (then a 1x1 projection),
    with ``d_k = key_ratio * out_channels``, ``d_v = value_ratio *
    out_channels``. Attention logits are ``q_i . (k_j + r^W_{jx-ix} +
    r^H_{jy-iy}) / sqrt(d_k / heads)``; the offset tables cover +-
    ``max_offset`` and larger offsets share the last embedding, so any feature
    size works at run time. With ``stride`` > 1 attention runs on the input
    average-pooled to the conv's output grid.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels F_out.
        kernel_size (int): Kernel of the convolutional part. Defaults to 3.
        stride (int): Stride of both parts. Defaults to 1.
        key_ratio (float): k = d_k / F_out. Defaults to 0.2 (the paper's).
        value_ratio (float): v = d_v / F_out. Defaults to 0.1 (the paper's).
        num_heads (int): N_h. Defaults to 8.
        max_offset (int): Largest relative offset with its own embedding.
            Defaults to 64.
        max_bias_elements (int): Queries are processed in bands of image rows
            so that one band's position-logit tensor has at most this many
            elements (at least one row). Defaults to 2**25 (128 MiB in fp32).
        bias (bool): Bias of the convolutional part. Defaults to False.

    Shape:
        (B, in_channels, H, W) -> (B, out_channels, H', W') with H', W' those
        of ``kernel_size`` / ``stride`` convolution with padding k // 2.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, key_ratio: float = 0.2, value_ratio: float = 0.1,
                 num_heads: int = 8, max_offset: int = 64, bias: bool = False,
                 max_bias_elements: int = 2**25) -> None:
        super().__init__()
        key_channels = round(key_ratio * out_channels)
        value_channels = round(value_ratio * out_channels)
        where = (f'key_ratio={key_ratio}, value_ratio={value_ratio}, '
                 f'num_heads={num_heads}, out_channels={out_channels}')
        if abs(key_channels - key_ratio * out_channels) > 1e-6 or \
                abs(value_channels - value_ratio * out_channels) > 1e-6:
            raise ValueError(f'{where}: key_ratio * out_channels and value_ratio * '
                             'out_channels must be whole numbers of channels')
        if not 0 < value_channels <= out_channels or key_channels <= 0:
            raise ValueError(f'{where}: need 0 < d_k and 0 < d_v <= out_channels')
        if key_channels % num_heads or value_channels % num_heads:
            raise ValueError(f'{where}: d_k={key_channels} and d_v={value_channels} must '
                             f'both be divisible by num_heads={num_heads}')
        self.key_channels, self.value_channels = key_channels, value_channels
        self.num_heads, self.stride, self.kernel_size = num_heads, stride, kernel_size
        self.max_bias_elements = max_bias_elements
        conv_channels = out_channels - value_channels
        self.conv = nn.Conv2d(in_channels, conv_channels, kernel_size, stride,
                              kernel_size // 2, bias=bias) if conv_channels else None
        self.qkv = nn.Conv2d(in_channels, 2 * key_channels + value_channels, 1)
        self.proj = nn.Conv2d(value_channels, value_channels, 1)
        head_dim = key_channels // num_heads
        self.rel_table_w = nn.Parameter(torch.randn(2 * max_offset + 1, head_dim) * head_dim**-0.5)
        self.rel_table_h = nn.Parameter(torch.randn(2 * max_offset + 1, head_dim) * head_dim**-0.5)

    def split_heads(self, x: torch.Tensor):
        """(B, C, H, W) -> q, k: (B, heads, H, W, d_k/heads); v: (B, heads, H*W, d_v/heads)."""
        b, _, h, w = x.shape
        if self.stride > 1:
            x = F.avg_pool2d(x, self.kernel_size, self.stride, self.kernel_size // 2,
                             count_include_pad=False)
            h, w = x.shape[-2:]
        q, k, v = self.qkv(x).split([self.key_channels, self.key_channels,
                                     self.value_channels], dim=1)
        q, k = (t.reshape(b, self.num_heads, -1, h, w).permute(0, 1, 3, 4, 2) for t in (q, k))
        v = v.reshape(b, self.num_heads, -1, h * w).transpose(-1, -2)
        return q * q.shape[-1] ** -0.5, k, v

    def relative_bias(self, q: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """Position logits of the queries in image ``rows``.

        Args:
            q: (B, heads, H, W, d) scaled queries of the whole image.
            rows: The query rows y0:y1 to compute.

        Returns:
            (B, heads, (y1 - y0) * W, H * W), rows in (y, x) order, keys in (y', x').
        """
        b, n, h, w, _ = q.shape
        start, stop, _ = rows.indices(h)
        q_rows = q[:, :, start:stop]
        along_w = relative_logits_1d(q_rows, self.rel_table_w)  # [b, n, y, x, x']
        along_h = relative_logits_1d(q_rows.transpose(2, 3), self.rel_table_h, h,
                                     start)  # [b, n, x, y, y']
        bias = along_w[:, :, :, :, None, :] + along_h.permute(0, 1, 3, 2, 4)[..., None]
        return bias.reshape(b, n, (stop - start) * w, h * w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        b, n, h, w, d = q.shape
        keys = k.reshape(b, n, h * w, d)
        # The bias is (queries x keys); computing it for a band of query rows
        # at a time bounds its memory by ``max_bias_elements``.
        rows_per_chunk = max(1, self.max_bias_elements // (b * n * w * h * w))
        out = torch.cat([
            F.scaled_dot_product_attention(
                q[:, :, y:y + rows_per_chunk].reshape(b, n, -1, d), keys, v,
                attn_mask=self.relative_bias(q, slice(y, y + rows_per_chunk)).to(q.dtype),
                scale=1.0)
            for y in range(0, h, rows_per_chunk)], dim=2)
        out = self.proj(out.transpose(-1, -2).reshape(b, self.value_channels, h, w))
        return out if self.conv is None else torch.cat([self.conv(x), out], dim=1)
