"""Focal Transformer backbone: sizes, parameter counts, official checkpoints."""
import json
import math

import pytest
import torch

from mmfreq.models import FocalTransformer, convert_focal_state_dict
from mmfreq.testing.activation_checkpointing import assert_checkpointing_is_exact_and_smaller
from mmfreq.testing.compile import assert_compiles_like_eager
from mmfreq.testing.fixtures import KEY_FIXTURES

# Official Focal-T without its classifier: 28.88 M in microsoft/Focal-Transformer's README
# less the 768 x 1000 + 1000 head (shapes: tests/data/official_keys/focal_tiny_official.json).
OFFICIAL_TINY_PARAMS = 28_111_380


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    model = FocalTransformer('tiny').eval()
    model.init_weights()
    return model


def test_parameters_are_the_official_ones_plus_the_output_norms(tiny):
    """Converted, the official Focal-T's keys (dumped from the official code)
    are mmfreq's parameters with the same shapes, less the classifier; what
    mmfreq adds is the LayerNorm of each output before the last (the
    official model has one final norm)."""
    fixture = json.loads((KEY_FIXTURES / 'focal_tiny_official.json').read_text())['tensors']
    official = {k: torch.empty(shape, device='meta') for k, (shape, dtype) in fixture.items()
                if dtype == 'float32'}
    assert sum(v.numel() for k, v in official.items()
               if not k.startswith('head.')) == OFFICIAL_TINY_PARAMS
    converted = {k: tuple(v.shape) for k, v in convert_focal_state_dict(official).items()}
    ours = {k: tuple(p.shape) for k, p in tiny.named_parameters()}
    assert set(converted) - set(ours) == {'head.weight', 'head.bias'}
    added = sorted(set(ours) - set(converted))
    assert added == [f'norm{i}.{t}' for i in range(3) for t in ('bias', 'weight')]
    assert {k: ours[k] for k in converted if k in ours} == \
        {k: v for k, v in converted.items() if k in ours}
    assert sum(p.numel() for p in tiny.parameters()) == \
        OFFICIAL_TINY_PARAMS + sum(math.prod(ours[k]) for k in added)


def test_small_and_base_match_the_readme_totals():
    """README totals with the 1000-class head: Focal-S 51.1M, Focal-B 89.8M.
    Official = mmfreq less its first three output norms (2 * 7 * dims) plus
    the head (8 * dims -> 1000)."""
    for arch, total in (('small', 51.1e6), ('base', 89.8e6)):
        model = FocalTransformer(arch)
        params = sum(p.numel() for p in model.parameters())
        extra_norms = sum(p.numel() for i in range(3)
                          for p in getattr(model, f'norm{i}').parameters())
        head = (model.channels[-1] + 1) * 1000
        assert params - extra_norms + head == pytest.approx(total, abs=0.05e6)


@pytest.mark.parametrize('size', [(224, 224), (100, 75), (33, 50), (20, 20), (8, 12),
                                  (97, 131)])
@pytest.mark.parametrize('use_conv_embed', [False, True])
def test_output_strides_and_channels(size, use_conv_embed):
    model = FocalTransformer('tiny', use_conv_embed=use_conv_embed).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    side = [math.ceil(s / 4) if not use_conv_embed else (s - 3) // 4 + 1 for s in size]
    for i, out in enumerate(outs):
        assert out.shape == (1, 96 * 2**i, *side)
        side = [math.ceil(s / 2) for s in side]


def test_convert_is_idempotent_on_mmfreq_names(tiny):
    state = tiny.state_dict()
    assert convert_focal_state_dict(state).keys() == state.keys()


def test_frozen_stages_take_no_gradient():
    model = FocalTransformer(dict(embed_dims=16, depths=(2, 1, 1, 1), num_heads=(1, 2, 2, 4)),
                             frozen_stages=1, drop_path_rate=0.1).train()
    assert not model.patch_embed.training and not model.layers[0].training
    sum(o.mean() for o in model(torch.randn(2, 3, 128, 120))).backward()  # stage 3: 8x8
    assert model.layers[0].blocks[0].attn.qkv.weight.grad is None
    assert not model.norm0.weight.requires_grad
    grads = [p.grad for n, p in model.named_parameters() if n.startswith('layers.2')]
    assert all(g is not None for g in grads)


def test_checkpointing_gives_the_same_training_step_and_saves_less():
    """with_cp=True: outputs and every gradient as without (drop path on, the
    same masks), and the blocks' activations are recomputed, not kept."""
    def build(with_cp: bool) -> FocalTransformer:
        torch.manual_seed(0)
        model = FocalTransformer(dict(embed_dims=16, depths=(2, 1, 1, 1), num_heads=(1, 2, 2, 4)),
                                 expand_sizes=(3, 3, 3, 3), drop_path_rate=0.2, with_cp=with_cp)
        model.init_weights()
        return model

    assert_checkpointing_is_exact_and_smaller(build, (torch.randn(2, 3, 64, 72),), max_ratio=0.5)


def test_unknown_arch_lists_the_choices():
    with pytest.raises(ValueError, match="'huge'.*tiny"):
        FocalTransformer('huge')


def test_fdam_plug_in_adds_only_fdam_parameters_and_starts_close(tmp_path):
    torch.manual_seed(0)
    plain = FocalTransformer('tiny').eval()
    plain.init_weights()
    path = tmp_path / 'focal_tiny.pth'
    torch.save({'state_dict': plain.state_dict()}, path)
    fdam = FocalTransformer('tiny', fdam=True,
                            init_cfg=dict(type='Pretrained', checkpoint=str(path))).eval()
    fdam.init_weights()  # the FDAM keys are new, everything else loads
    extra = set(fdam.state_dict()) - set(plain.state_dict())
    assert extra and all('.att_inv.' in k or 'freq_scale' in k for k in extra)
    x = torch.randn(1, 3, 96, 80)
    with torch.no_grad():
        for a, b in zip(fdam(x), plain(x)):
            assert 0 < (a - b).abs().max() < 1e-2 * b.abs().max()


def small_focal() -> FocalTransformer:
    """Two blocks of width 16 in stage 1, one in the others; ring in stages 1 to 3."""
    torch.manual_seed(0)
    model = FocalTransformer(dict(embed_dims=16, depths=(2, 1, 1, 1), num_heads=(1, 2, 2, 4)),
                             expand_sizes=(3, 3, 3, 3), drop_path_rate=0.0)
    model.init_weights()
    return model


@pytest.mark.slow  # symbolic sizes make dynamo's second trace slow: about 2 minutes
def test_compiled_equals_eager_and_recompiles_at_most_once():
    """Three input sizes (stage 2 with its ring, stage 3 without, every stage
    padded): one graph for the first and one with dynamic sizes for the rest."""
    assert_compiles_like_eager(small_focal().eval(), [(torch.randn(1, 3, *size),) for size in
                                                      ((64, 72), (80, 96), (72, 88))])


@pytest.mark.slow
def test_trains_compiled_like_eager():
    """AOT autograd (as inductor runs it) at one size: gradients equal to eager.
    Training crops have one size; the dynamic trace of a second size took 10
    minutes on 2 CPU cores with gradients, so its check is the inference one above."""
    assert_compiles_like_eager(small_focal().train(), [(torch.randn(1, 3, 64, 72),)],
                               backend='aot_eager', backward=True, max_compilations=1)
