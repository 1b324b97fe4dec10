import pytest
import torch

from mmfreq.models.layers import AAConv2d
from mmfreq.reference import paper_aa_conv as reference_aa_conv
from mmfreq.testing.compile import assert_compiles_like_eager


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


@pytest.mark.slow  # dynamo traces the layer at two sizes
def test_compiles_without_graph_breaks_like_eager():
    """Dynamo's graph (the 'eager' backend, fast) with the strided attention's
    pooling; one recompile at most for a second size."""
    torch.manual_seed(0)
    m = AAConv2d(12, 40, stride=2, num_heads=4, max_offset=4)
    assert_compiles_like_eager(m, [(torch.randn(2, 12, 9, 13),), (torch.randn(2, 12, 6, 5),)])


@pytest.mark.slow  # AOT autograd traces forward and backward
def test_trains_compiled_like_eager():
    torch.manual_seed(0)
    m = AAConv2d(12, 40, stride=2, num_heads=4, max_offset=4)
    assert_compiles_like_eager(m, [(torch.randn(2, 12, 9, 13),), (torch.randn(2, 12, 6, 5),)],
                               backend='aot_eager', backward=True)
