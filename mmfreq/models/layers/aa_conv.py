"""Attention Augmented Convolution (Bello et al., "Attention Augmented
Convolutional Networks", ICCV 2019), for feature maps of any size."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def relative_logits_1d(q: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``q[..., i, :] . table[j - i]`` (offsets clamped to +-M) for every pair
    (i, j) along the last spatial axis, by relative to absolute (docs/backbones.md,
    "AA-ResNet"): q (B, heads, R, L, d), table (2M + 1, d) -> (B, heads, R, L, L).
    """
    length = q.shape[-2]
    max_offset = (table.shape[0] - 1) // 2
    offsets = torch.arange(1 - length, length, device=q.device).clamp(-max_offset, max_offset)
    per_offset = q @ table[offsets + max_offset].t()  # (B, heads, R, L, 2L - 1)
    positions = torch.arange(length, device=q.device)
    index = positions[None, :] - positions[:, None] + length - 1  # [i, j] -> j - i + L - 1
    return per_offset.gather(-1, index.expand(*per_offset.shape[:-1], length))


class AAConv2d(nn.Module):
    """``concat(conv(x), proj(MHA(x)))`` with 2-D relative position logits.

    The conv gives F_out - d_v channels, self-attention over all positions d_v,
    with logits ``q_i . (k_j + r^W_{x_j-x_i} + r^H_{y_j-y_i}) / sqrt(d_k / N_h)``
    for any map size. With ``stride`` > 1 the attention sees the input
    average-pooled to the conv's output grid.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels F_out.
        kernel_size (int): Kernel of the convolutional part. Defaults to 3.
        stride (int): Stride of both parts. Defaults to 1.
        key_ratio (float): d_k / F_out. Defaults to 0.2 (the paper's).
        value_ratio (float): d_v / F_out. Defaults to 0.1 (the paper's).
        num_heads (int): N_h. Defaults to 8.
        max_offset (int): Largest offset with its own embedding; larger ones
            share the last. Defaults to 64.
        bias (bool): Bias of the convolutional part. Defaults to False.

    Shape:
        (B, in_channels, H, W) -> (B, out_channels, H', W'), H' and W' those of
        the conv (padding k // 2).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, key_ratio: float = 0.2, value_ratio: float = 0.1,
                 num_heads: int = 8, max_offset: int = 64, bias: bool = False) -> None:
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

    def augmented_queries_and_keys(self, q: torch.Tensor, k: torch.Tensor
                                   ) -> tuple:
        """Queries ``[q_i, B_i, C_i]`` and keys ``[k_j, onehot(x_j), onehot(y_j)]``,
        (B, heads, H*W, d + W + H) each, whose products are the full logits, from
        q (scaled) and k (B, heads, H, W, d) (docs/backbones.md, "AA-ResNet").
        """
        b, n, h, w, d = q.shape
        along_w = relative_logits_1d(q, self.rel_table_w)  # [b, n, y, x, x']
        along_h = relative_logits_1d(q.transpose(2, 3), self.rel_table_h).transpose(2, 3)
        queries = torch.cat([q, along_w, along_h], dim=-1).reshape(b, n, h * w, d + w + h)
        ys, xs = torch.meshgrid(torch.arange(h, device=q.device),
                                torch.arange(w, device=q.device), indexing='ij')
        onehots = torch.cat([F.one_hot(xs.flatten(), w), F.one_hot(ys.flatten(), h)], dim=-1)
        keys = torch.cat([k.reshape(b, n, h * w, d),
                          onehots.to(k.dtype).expand(b, n, h * w, w + h)], dim=-1)
        return queries, keys

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        b, n, h, w, _ = q.shape
        queries, keys = self.augmented_queries_and_keys(q, k)
        # PyTorch's fused (flash) kernels need one head size for q, k and v, else
        # SDPA falls back to materialising the HW x HW matrix: zero-pad all three
        # to a multiple of 8 and keep the value channels of the output. (Rounded up
        # with non-negative integers: ONNX's integer Div truncates, so a traced
        # -(-n // 8) would round down there and crop instead of pad.)
        size = (queries.shape[-1] + 7) // 8 * 8
        queries, keys = (F.pad(t, (0, size - t.shape[-1])) for t in (queries, keys))
        out = F.scaled_dot_product_attention(
            queries, keys, F.pad(v, (0, size - v.shape[-1])), scale=1.0)[..., :v.shape[-1]]
        out = self.proj(out.transpose(-1, -2).reshape(b, self.value_channels, h, w))
        return out if self.conv is None else torch.cat([self.conv(x), out], dim=1)
