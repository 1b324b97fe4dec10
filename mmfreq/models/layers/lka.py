"""Large Kernel Attention (VAN, Guo et al. 2022)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LargeKernelAttention(nn.Module):
    """VAN's Large Kernel Attention, ``u * conv1(conv_spatial(conv0(u)))``: a
    (2d-1)^2 depth-wise conv, a ceil(k/d)^2 one dilated by d, then a 1x1 conv.

    Args:
        channels (int): Channels C of the input and output.
        kernel_size (int): Receptive field k (VAN: 21).
        dilation (int): Dilation d of the second conv (VAN: 3).

    Shape:
        (B, C, H, W) -> (B, C, H, W), for any H and W.
    """

    def __init__(self, channels: int, kernel_size: int = 21, dilation: int = 3) -> None:
        super().__init__()
        local_size = 2 * dilation - 1
        dilated_size = -(-kernel_size // dilation)  # ceil(k / d)
        if dilated_size % 2 == 0:
            raise ValueError(
                f'kernel_size={kernel_size} with dilation={dilation} gives an even '
                f'dilated kernel ({dilated_size}); choose values with odd ceil(k/d)')
        self.conv0 = nn.Conv2d(
            channels, channels, local_size, padding=local_size // 2, groups=channels)
        self.conv_spatial = nn.Conv2d(
            channels, channels, dilated_size, padding=dilation * (dilated_size // 2),
            dilation=dilation, groups=channels)
        self.conv1 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv1(dilated_depthwise_conv(self.conv0(x), self.conv_spatial))


def dilated_depthwise_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a depth-wise ``conv`` (odd kernel k, dilation d on both
    axes, padding d * (k // 2)), run undilated on the d x d interleaved
    sub-grids of ``x`` (B, C, H, W) as one batch (docs/backbones.md, "VAN").
    """
    d = conv.dilation[0]
    b, c, h, w = x.shape
    # ceil division with non-negative operands: ONNX's integer Div truncates
    rows, cols = (h + d - 1) // d, (w + d - 1) // d
    x = F.pad(x, (0, cols * d - w, 0, rows * d - h))
    # (B, C, rows*d, cols*d) -> (B*d*d, C, rows, cols), sub-grids channels-last
    grids = x.permute(0, 2, 3, 1).reshape(b, rows, d, cols, d, c).permute(0, 2, 4, 1, 3, 5)
    grids = grids.reshape(b * d * d, rows, cols, c).permute(0, 3, 1, 2)
    out = F.conv2d(grids, conv.weight, conv.bias, padding=conv.kernel_size[0] // 2, groups=c)
    out = out.permute(0, 2, 3, 1).reshape(b, d, d, rows, cols, c).permute(0, 3, 1, 4, 2, 5)
    # cropped by a negative pad, a new tensor: a sliced view's contiguity would
    # depend on w % d, and torch.compile would guard on it and recompile per residue
    out = F.pad(out.reshape(b, rows * d, cols * d, c), (0, 0, 0, w - cols * d, 0, h - rows * d))
    return out.permute(0, 3, 1, 2)


class LKAAttention(nn.Module):
    """VAN's attention branch: 1x1 conv, GELU, LKA, 1x1 conv, without VAN's
    shortcut, so that BatchNorm and layer scale can be folded into it.

    Args:
        channels (int): Channels C; (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(channels, channels, 1)
        self.lka = LargeKernelAttention(channels)
        self.proj_2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_2(self.lka(F.gelu(self.proj_1(x))))
