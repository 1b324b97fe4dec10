"""Focal attention (fast gather + SDPA) against the official-style formulation."""
import pytest
import torch
import torch.nn.functional as F

from mmfreq.models.layers import FocalAttention
from mmfreq.models.layers.focal_attention import window_offsets
from mmfreq.reference import rolled_focal_attention as reference_focal_attention


def randomise_biases_(m: FocalAttention) -> None:
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if 'relative_position' in name or 'pool_layers' in name:
                p.copy_(torch.randn_like(p))


@pytest.mark.parametrize('size', [(14, 14), (10, 17), (5, 5), (7, 7), (22, 9), (8, 30)])
@pytest.mark.parametrize('focal_window,expand_size,focal_level', [
    (7, 3, 2), (5, 3, 2), (3, 2, 2), (1, 3, 2), (7, 0, 2), (5, 3, 1)])
def test_fast_equals_reference(size, focal_window, expand_size, focal_level):
    torch.manual_seed(0)
    m = FocalAttention(24, 3, expand_size=expand_size, focal_window=focal_window,
                       focal_level=focal_level).eval()
    randomise_biases_(m)
    x = torch.randn(2, *size, 24)
    with torch.no_grad():
        torch.testing.assert_close(m(x), reference_focal_attention(m, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('budget', [1, 5000])
def test_window_chunks_give_the_same_output(budget):
    torch.manual_seed(0)
    m = FocalAttention(24, 3, focal_window=5).eval()
    randomise_biases_(m)
    x = torch.randn(1, 19, 23, 24)
    with torch.no_grad():
        expected = reference_focal_attention(m, x)
        m.max_bias_elements = budget
        torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-5)


def test_ring_is_132_keys_with_12_listed_twice():
    m = FocalAttention(24, 3)
    ring = window_offsets(7, 3)[1]
    assert len(ring) == 132
    assert len(set(ring)) == 120  # a 13x13 square minus the 7x7
    assert {dy for dy, _ in ring} == set(range(-3, 10))
    assert m.relative_position_bias_table_to_neighbors.shape == (1, 3, 49, 132)


def test_padding_does_not_change_the_real_tokens():
    """A map padded with extra zero tokens by the caller would change results;
    internal padding must not: outputs equal the reference with masking."""
    torch.manual_seed(0)
    m = FocalAttention(24, 3).eval()
    x = torch.randn(1, 9, 9, 24)
    with torch.no_grad():
        out = m(x)
        grown = m(F.pad(x, (0, 0, 0, 5, 0, 5)))[:, :9, :9]
    # padding tokens of x itself would be attended: the outputs differ...
    assert not torch.allclose(out, grown)
    # ...while the layer's own padding is masked (matches the masked reference)
    torch.testing.assert_close(out, reference_focal_attention(m, x), rtol=1e-5, atol=1e-5)


def test_autocast_and_gradients():
    torch.manual_seed(0)
    m = FocalAttention(24, 3, focal_window=3).train()
    x = torch.randn(2, 11, 16, 24, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = m(x)
    assert out.dtype == torch.bfloat16
    out.float().square().mean().backward()
    grads = {n: p.grad for n, p in m.named_parameters()}
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values()), \
        [n for n, g in grads.items() if g is None or g.abs().sum() == 0]


def test_attention_dropout_acts_on_the_weights_in_training_only():
    """attn_drop is scaled_dot_product_attention's dropout_p: off in eval
    (the reference), a fresh mask per call in training, and unbiased: over
    many samples (a batch of copies, each its own mask) the mean output is
    the eval output, which dropping without rescaling, or after the
    projection's bias, would miss."""
    torch.manual_seed(0)
    m = FocalAttention(24, 3, focal_window=3, attn_drop=0.5)
    randomise_biases_(m)
    x = torch.randn(1, 10, 12, 24)
    with torch.no_grad():
        expected = m.eval()(x)
        torch.testing.assert_close(expected, reference_focal_attention(m, x),
                                   rtol=1e-5, atol=1e-5)
        m.train()
        samples = m(x.expand(512, -1, -1, -1))
    assert not torch.allclose(samples[0], samples[1])
    error = (samples.mean(0) - expected[0]).abs()
    standard_error = samples.std(0) / 512**0.5
    assert (error <= 5 * standard_error + 1e-6).all(), (error / standard_error).max()
    out = m(x)
    out.square().mean().backward()
    assert m.relative_position_bias_table.grad.abs().sum() > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='focal_level=3'):
        FocalAttention(24, 3, focal_level=3)
    with pytest.raises(ValueError, match='embed_dims=25.*num_heads=3'):
        FocalAttention(25, 3)
    with pytest.raises(ValueError, match='expand_size=7'):
        FocalAttention(24, 3, expand_size=7)


@pytest.mark.parametrize('size', [(14, 14), (10, 17), (5, 5)])
def test_att_inv_plug_in_equals_reference(size):
    torch.manual_seed(0)
    m = FocalAttention(24, 3, focal_window=5, att_inv=True).eval()
    randomise_biases_(m)
    with torch.no_grad():
        for p in m.att_inv.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    x = torch.randn(2, *size, 24)
    with torch.no_grad():
        torch.testing.assert_close(m(x), reference_focal_attention(m, x), rtol=1e-5, atol=1e-5)


def test_gradients_equal_the_reference():
    """The fast path recomputes each chunk in backward; gradients must not change."""
    torch.manual_seed(0)
    m = FocalAttention(24, 3, focal_window=5, att_inv=True, max_bias_elements=3000)
    randomise_biases_(m)
    x = torch.randn(2, 12, 17, 24)
    grads = []
    for fn in (m, lambda t: reference_focal_attention(m, t)):
        m.zero_grad()
        xg = x.clone().requires_grad_()
        fn(xg).square().sum().backward()
        grads.append([xg.grad] + [p.grad.clone() for p in m.parameters()])
    for fast, ref in zip(*grads):
        # fp32 rounding of both (each ~1e-6 of the largest entry against fp64);
        # the key bias gets a zero gradient up to rounding: softmax ignores it
        torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-5 * ref.abs().max() + 1e-6)


def test_bias_tables_start_as_in_the_official_code():
    """microsoft/Focal-Transformer classification/focal_transformer.py (WindowAttention):
    the own-window table is torch.zeros and never re-drawn (unlike Swin's, which is
    trunc_normal); the ring and pooled-window tables are trunc_normal_(std=.02)."""
    torch.manual_seed(0)
    m = FocalAttention(64, 32)
    assert (m.relative_position_bias_table == 0).all()
    for table in (m.relative_position_bias_table_to_neighbors,
                  m.relative_position_bias_table_to_windows[0]):
        assert table.std().item() == pytest.approx(0.02, rel=0.05)
        assert table.mean().abs().item() < 0.002


@pytest.mark.parametrize('size', [(10, 17), (14, 14), (5, 5)])
def test_exports_to_onnx_by_itself(tmp_path, size):
    """The layer's own forward traces to standard ONNX operators (padding, the
    key gather, masks, chunks) that onnxruntime evaluates as PyTorch does."""
    onnxruntime = pytest.importorskip('onnxruntime')
    torch.manual_seed(0)
    m = FocalAttention(24, 3, focal_window=5, max_bias_elements=20_000).eval()
    randomise_biases_(m)
    x = torch.randn(1, *size, 24)
    path = str(tmp_path / 'focal_attention.onnx')
    torch.onnx.export(m, (x, ), path, input_names=['x'], opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    (got, ) = session.run(None, {'x': x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), m(x), rtol=0, atol=1e-4)
