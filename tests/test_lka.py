import pytest
import torch
import torch.nn.functional as F

from mmfreq.models.layers import LargeKernelAttention, LKAAttention
from mmfreq.models.layers.lka import dilated_depthwise_conv


def compose_depthwise(first: torch.nn.Conv2d, second: torch.nn.Conv2d):
    """The single depth-wise kernel and bias equal to ``second(first(x))`` away
    from the borders: the full convolution of the two (dilated) kernels."""
    c = first.out_channels
    dilated = torch.zeros(c, 1, *[(k - 1) * d + 1 for k, d in
                                  zip(second.kernel_size, second.dilation)])
    dilated[..., ::second.dilation[0], ::second.dilation[1]] = second.weight
    pad = first.kernel_size[0] - 1
    # channels as the batch of a grouped conv: (1, C, k, k) * (C, 1, k', k')
    kernel = F.conv2d(F.pad(dilated, [pad] * 4).transpose(0, 1), first.weight.flip(-1, -2),
                      groups=c).transpose(0, 1)
    bias = second.bias + first.bias * second.weight.sum((1, 2, 3))
    return kernel, bias


def test_lka_equals_one_large_depthwise_kernel_gating_the_input():
    torch.manual_seed(0)
    lka = LargeKernelAttention(channels=4)
    x = torch.randn(2, 4, 48, 41)
    kernel, bias = compose_depthwise(lka.conv0, lka.conv_spatial)
    assert kernel.shape[-2:] == (23, 23)  # 5x5 then 7x7 dilated by 3: radius 2 + 9
    with torch.no_grad():
        dense = F.conv2d(x, kernel, bias, padding=11, groups=4)
        expected = x * lka.conv1(dense)
        out = lka(x)
    assert out.shape == x.shape
    # Zero padding between the two convs differs from one big conv only within
    # 9 pixels (the dilated radius) of the border.
    torch.testing.assert_close(out[..., 9:-9, 9:-9], expected[..., 9:-9, 9:-9],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('size', [(1, 1), (7, 3), (30, 31)])
def test_lka_keeps_any_spatial_size(size):
    assert LargeKernelAttention(8)(torch.randn(1, 8, *size)).shape == (1, 8, *size)


def test_lka_kernel_decomposition_follows_kernel_size_and_dilation():
    lka = LargeKernelAttention(4, kernel_size=21, dilation=3)
    assert lka.conv0.kernel_size == (5, 5)
    assert lka.conv_spatial.kernel_size == (7, 7)
    assert lka.conv_spatial.padding == (9, 9)
    with pytest.raises(ValueError, match='kernel_size=20'):
        LargeKernelAttention(4, kernel_size=20, dilation=5)


def test_lka_attention_has_no_hidden_shortcut():
    attn = LKAAttention(4)
    torch.nn.init.zeros_(attn.proj_2.weight)
    torch.nn.init.zeros_(attn.proj_2.bias)
    assert torch.count_nonzero(attn(torch.randn(1, 4, 9, 9))) == 0


@pytest.mark.parametrize('size', [(1, 1), (2, 5), (9, 9), (16, 23), (31, 30)])
@pytest.mark.parametrize('kernel_size,dilation', [(7, 3), (5, 2)])
def test_dilated_conv_on_sub_grids_equals_the_dilated_conv(size, kernel_size, dilation):
    """Borders included (sizes not multiples of d, smaller than the kernel), with gradients."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 6, kernel_size, padding=dilation * (kernel_size // 2),
                           dilation=dilation, groups=6)
    x = torch.randn(2, 6, *size).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    out = dilated_depthwise_conv(x, conv)
    expected = conv(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(expected)
    ours = torch.autograd.grad(out, (x, conv.weight, conv.bias), grad)
    theirs = torch.autograd.grad(expected, (x, conv.weight, conv.bias), grad)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
