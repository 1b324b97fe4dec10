"""FLOP counting with attention: each handle against an independent count,
the papers' backbone numbers, and every kind of model the configs build."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer

from mmfreq.analysis.flops import ATTENTION_HANDLES, count_complexity
from mmfreq.apis import build_model_from_config
from mmfreq.models import FDAMDeiT3, FocalTransformer
from mmfreq.models.layers import AAConv2d, AttInvAttention, FocalAttention
from mmfreq.reference import MaterialisedAttInvAttention
from mmfreq.testing.tools import ROOT


def counted(module: nn.Module, *inputs: torch.Tensor) -> FlopAnalyzer:
    analyzer = FlopAnalyzer(module.eval(), inputs).set_op_handle(**ATTENTION_HANDLES)
    return analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)


class SDPA(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_sdpa_counts_logits_and_weighted_sum():
    """B * H * N * M * (d + d_v) multiply-adds: q k^T, then the sum over v."""
    q, k, v = torch.randn(2, 3, 10, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 5)
    assert counted(SDPA(), q, k, v).total() == 2 * 3 * 10 * 7 * (8 + 5)


def test_sdpa_count_equals_the_materialised_attention():
    """AttInv attention through SDPA counts what its N x N matmuls count."""
    torch.manual_seed(0)
    fused = AttInvAttention(48, 4)
    materialised = MaterialisedAttInvAttention(48, 4)
    materialised.load_state_dict(fused.state_dict())
    x = torch.randn(2, 37, 48)
    assert counted(fused, x).total() == counted(materialised, x).total()


@pytest.mark.parametrize('size', [(14, 21), (10, 30)])
def test_focal_attention_counts_every_key_of_every_window(size):
    """Padded map in 7x7 windows; each query sees its 49 own keys, the 132 ring
    keys and a 7x7 neighbourhood of pooled windows; values as wide as queries."""
    c, heads = 32, 4
    m = FocalAttention(c, heads)
    x = torch.randn(1, *size, c)
    windows = -(-size[0] // 7) * -(-size[1] // 7)
    attention = windows * 49 * (49 + 132 + 49) * 2 * c
    by_op = counted(m, x).by_operator()
    assert by_op['scaled_dot_product_attention'] == attention


def test_aa_conv_counts_the_papers_attention():
    """Conv part, q/k/v and output projections, relative logits (q times each of
    the 2W - 1 and 2H - 1 offsets) and N^2 (d_k + d_v) for the attention."""
    fin, fout, h, w = 32, 80, 9, 11
    m = AAConv2d(fin, fout, key_ratio=0.2, value_ratio=0.1, num_heads=8)
    dk, dv, n = 16, 8, h * w
    expected = (n * (fout - dv) * fin * 9 + n * fin * (2 * dk + dv) + n * dv * dv
                + n * dk * ((2 * w - 1) + (2 * h - 1)) + n * n * (dk + dv))
    flops = count_complexity(nn.Sequential(m).eval(), torch.randn(1, fin, h, w))['flops']
    assert type(flops) is int and flops == expected  # a plain int: it goes into JSON


@pytest.mark.slow  # traces two full-size backbones: ~20 s on 2 cores
@pytest.mark.parametrize('build, published', [
    # microsoft/Focal-Transformer README: Focal-T 4.9G at 224
    (lambda: FocalTransformer('tiny', out_indices=(3, )), 4.9e9),
    # DeiT-III README (facebookresearch/deit, README_revenge.md): ViT-B 17.5G at 224
    (lambda: FDAMDeiT3('base', att_inv=False, freq_scale=False, out_indices=(11, )), 17.5e9),
])
def test_backbones_reproduce_the_published_flops(build, published):
    flops = count_complexity(build().eval(), torch.randn(1, 3, 224, 224))['flops']
    assert flops == pytest.approx(published, rel=0.02)


@pytest.mark.slow  # builds and traces four models: ~1 minute on 2 cores
@pytest.mark.parametrize('config, shape', [
    ('fpn_van_t_synthetic.py', (64, 96)),  # segmentor
    ('retinanet_r50_1x.py', (128, 160)),  # one-stage detector
    ('mask_rcnn_van_t_synthetic.py', (128, 160)),  # two-stage detector
    ('van_b_in1k.py', (64, 64)),  # classifier
])
def test_every_kind_of_model_is_counted(config, shape):
    model = build_model_from_config(str(ROOT / 'configs' / config))
    result = count_complexity(model, torch.randn(1, 3, *shape))
    assert result['params'] == sum(p.numel() for p in model.parameters())
    assert result['flops'] > 0
    assert 'forward' not in model.__dict__  # the tracing forward is taken off again


class TwoStageLike(nn.Module):
    """What the counter needs of a detector: a ``bbox_head`` and mmdet's call signature."""

    def __init__(self) -> None:
        super().__init__()
        self.bbox_head = nn.Conv2d(3, 4, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        assert mode == 'tensor'
        assert [tuple(s.img_shape) for s in data_samples] == [tuple(inputs.shape[-2:])] * len(
            inputs)
        return self.bbox_head(inputs)


def test_detector_is_traced_through_a_wrapper_and_left_as_it_was():
    """The counter gives the detector its data samples from a wrapper: a forward
    the caller set on the instance is still there afterwards."""
    model = TwoStageLike().eval()
    own_forward = model.forward
    model.forward = own_forward  # an instance attribute, as functools.partial users set
    result = count_complexity(model, torch.randn(2, 3, 5, 7))
    assert result['flops'] == 2 * 4 * 3 * 5 * 7
    assert model.__dict__['forward'] is own_forward
