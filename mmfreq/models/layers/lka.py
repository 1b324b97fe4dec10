"""Large Kernel Attention (VAN, Guo et al. 2022)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LargeKernelAttention(nn.Module):
    """Gate a feature map with a decomposed large-kernel convolution.

    A ``kernel_size`` x ``kernel_size`` convolution is decomposed into a
    (2d-1) x (2d-1) depth-wise conv, a ceil(k/d) x ceil(k/d) depth-wise conv
    with dilation d, and a 1x1 conv; the result multiplies the input:
    ``LKA(u) = u * conv1(conv_spatial(conv0(u)))``. With the VAN defaults
    (k=21, d=3) that is 5x5, then 7x7 with dilation 3 (padding 9), then 1x1.

    Args:
        channels (int): Channels C of the input and output.
        kernel_size (int): Receptive field k of the decomposed kernel.
        dilation (int): Dilation d of the long-range depth-wise conv.

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
    """``conv(x)`` for a depth-wise conv with dilation d and 'same' padding,
    run as the undilated conv on the d x d interleaved sub-grids of ``x``.

    Output pixel (y, x) of a conv dilated by d reads only pixels congruent to
    it modulo d, so each sub-grid ``x[..., r::d, s::d]`` is convolved alone with
    the undilated kernel (space to batch: the sub-grids become the batch).
    Zero-padding H and W up to multiples of d stands for the conv's own zero
    padding. Dilated depth-wise kernels are slower than undilated ones for the
    same work on CPU (oneDNN); the two rearrangements are plain copies.

    Args:
        x: (B, C, H, W).
        conv: A depth-wise ``nn.Conv2d`` (groups = C) with odd kernel k, equal
            dilation d on both axes and padding d * (k // 2).

    Returns:
        (B, C, H, W), equal to ``conv(x)``.
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
    """VAN's attention branch: 1x1 conv, GELU, LKA, 1x1 conv.

    The shortcut around it belongs to the caller (VAN adds the normalised input
    back), which keeps this module a pure function that BatchNorm and layer
    scale can be folded into.

    Args:
        channels (int): Channels C of the input and output.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(channels, channels, 1)
        self.lka = LargeKernelAttention(channels)
        self.proj_2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_2(self.lka(F.gelu(self.proj_1(x))))
