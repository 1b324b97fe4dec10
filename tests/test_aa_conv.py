import pytest
import torch
import torch.nn.functional as F

from mmfreq.models.layers import AAConv2d


def reference_aa_conv(m: AAConv2d, x: torch.Tensor) -> torch.Tensor:
    """The paper's formula, written out: a full (HW, HW, d) tensor of position
    embeddings per axis, logits q.(k + r^W + r^H)/sqrt(d), softmax, values."""
    if m.stride > 1:
        x_att = F.avg_pool2d(x, m.kernel_size, m.stride, m.kernel_size // 2,
                             count_include_pad=False)
    else:
        x_att = x
    b, _, h, w = x_att.shape
    q, k, v = m.qkv(x_att).split([m.key_channels, m.key_channels, m.value_channels], 1)
    heads = m.num_heads
    q, k, v = (t.reshape(b, heads, -1, h * w).transpose(-1, -2) for t in (q, k, v))
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


@pytest.mark.parametrize('size,stride', [((7, 7), 1), ((5, 9), 1), ((11, 6), 2),
                                         ((9, 13), 2), ((1, 4), 1)])
def test_fast_equals_reference(size, stride):
    torch.manual_seed(0)
    m = AAConv2d(12, 40, kernel_size=3, stride=stride, num_heads=4, max_offset=4).eval()
    x = torch.randn(2, 12, *size)
    with torch.no_grad():
        out = m(x)
        torch.testing.assert_close(out, reference_aa_conv(m, x), rtol=1e-5, atol=1e-5)
    expected = [(s + 2 - 3) // stride + 1 for s in size]
    assert out.shape == (2, 40, *expected)


def test_no_size_is_fixed_at_build_time():
    m = AAConv2d(8, 20, num_heads=2, max_offset=3).eval()
    for size in [(3, 3), (10, 17), (32, 5)]:  # offsets beyond 3 share the edge embedding
        assert m(torch.randn(1, 8, *size)).shape == (1, 20, *size)


def test_fully_attentional_has_no_conv_part():
    m = AAConv2d(8, 16, key_ratio=1.0, value_ratio=1.0, num_heads=4)
    assert m.conv is None
    assert m(torch.randn(1, 8, 5, 6)).shape == (1, 16, 5, 6)


def test_gradients_reach_every_parameter():
    m = AAConv2d(8, 40, num_heads=4)
    m(torch.randn(2, 8, 6, 7)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


@pytest.mark.parametrize('kwargs,named', [
    (dict(out_channels=40, key_ratio=0.2, value_ratio=0.1, num_heads=8), 'num_heads=8'),
    (dict(out_channels=30, key_ratio=0.25, value_ratio=0.1, num_heads=1), 'whole numbers'),
    (dict(out_channels=40, key_ratio=0.2, value_ratio=1.5, num_heads=4), 'd_v <= out_channels'),
])
def test_uneven_ratios_name_the_values(kwargs, named):
    with pytest.raises(ValueError) as info:
        AAConv2d(8, **kwargs)
    message = str(info.value)
    assert named in message
    assert f"out_channels={kwargs['out_channels']}" in message
