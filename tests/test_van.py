import math

import pytest
import torch
import torch.nn as nn

from mmfreq.models.backbones import VAN, convert_van_state_dict
from mmfreq.testing.compile import assert_compiles_like_eager

# Parameters of the official VAN without its 1000-class head, counted from the
# official model (Visual-Attention-Network/VAN-Classification, models/van.py; the
# shapes are in tests/data/official_keys/van_b*_official.json). With the head:
# 4.11 / 13.86 / 26.58 / 44.77 M, as mmpretrain's configs/van/metafile.yml lists.
OFFICIAL_PARAMS = {'b0': 3_848_800, 'b1': 13_348_800, 'b2': 26_065_472, 'b3': 44_252_608}

# The official VAN's stage norms: partial(nn.LayerNorm, eps=1e-6)
# (Visual-Attention-Network/VAN-Classification models/van.py, van_b0..van_b3).
OFFICIAL_STAGE_NORM_EPS = 1e-6


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, BN statistics and layer scales, so no term is trivial."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            if tensor.dtype != torch.float32:
                continue
            if 'running_var' in name:
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.2)
    model.eval()  # (mmpretrain's train() does not return the module)
    return model


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_parameter_count_matches_official(arch):
    model = VAN(arch=arch)
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[arch]


@pytest.mark.parametrize('alias,arch', [('tiny', 'b0'), ('small', 'b1'), ('base', 'b2'),
                                        ('large', 'b3'), ('t', 'b0'), ('l', 'b3')])
def test_aliases_name_the_official_archs(alias, arch):
    assert VAN.arch_zoo[alias] is VAN.arch_zoo[arch]


def test_stage_norms_are_the_official_layer_norm():
    """Features of small variance, where eps matters: fp64 reference of the official norm."""
    model = VAN(arch='b0').eval()
    norm = model.stages[1].norm
    assert norm.eps == OFFICIAL_STAGE_NORM_EPS
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(64, generator=gen) + 0.5)
        norm.bias.copy_(torch.randn(64, generator=gen))
        x = torch.randn(2, 5, 5, 64, generator=gen) * 1e-3  # variance 1e-6
        x64 = x.double()
        var, mean = torch.var_mean(x64, dim=-1, unbiased=False, keepdim=True)
        expected = (x64 - mean) / torch.sqrt(var + OFFICIAL_STAGE_NORM_EPS)
        expected = expected * norm.weight.double() + norm.bias.double()
        torch.testing.assert_close(norm(x).double(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('size', [(64, 64), (65, 97), (33, 200), (127, 31), (5, 7), (1, 1)])
def test_output_strides_for_any_input_size(size):
    model = VAN(arch='b0').eval()
    h, w = size
    with torch.no_grad():
        outs = model(torch.randn(2, 3, h, w))
    assert len(outs) == 4
    for i, (out, dims) in enumerate(zip(outs, [32, 64, 160, 256])):
        stride = 2 ** (i + 2)
        expected_h = math.ceil(h / 4)
        expected_w = math.ceil(w / 4)
        for _ in range(i):
            expected_h, expected_w = math.ceil(expected_h / 2), math.ceil(expected_w / 2)
        assert out.shape == (2, dims, expected_h, expected_w), (stride, out.shape)


def test_out_indices_select_stages():
    model = VAN(arch='b0', out_indices=(1, 3)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 256]
    with pytest.raises(ValueError, match=r'out_indices=\(4,\).*-4\.\.3'):
        VAN(arch='b0', out_indices=(4, ))


def test_unknown_arch_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        VAN(arch='b9')
    message = str(info.value)
    assert "'b9'" in message
    for name in ('b0', 'b6', 'tiny', 'large'):
        assert name in message


def test_custom_arch_dict_needs_all_keys():
    with pytest.raises(ValueError, match='mlp_ratios'):
        VAN(arch=dict(embed_dims=[8, 16, 32, 64], depths=[1, 1, 1, 1]))
    model = VAN(arch=dict(embed_dims=[8, 16, 32, 64], depths=[1, 1, 1, 1],
                          mlp_ratios=[2, 2, 2, 2])).eval()
    assert model(torch.randn(1, 3, 32, 32))[-1].shape == (1, 64, 1, 1)


def test_frozen_stages_stop_gradients_and_keep_bn_in_eval():
    model = VAN(arch='b0', frozen_stages=2)  # the stem and stages 0, 1
    model.train()
    for i, stage in enumerate(model.stages):
        frozen = i <= 1
        assert all(p.requires_grad != frozen for p in stage.parameters())
        bns = [m for m in stage.modules() if isinstance(m, nn.BatchNorm2d)]
        assert all(bn.training != frozen for bn in bns)
    out = model(torch.randn(2, 3, 64, 64))
    sum(o.sum() for o in out).backward()
    assert model.stages[0].patch_embed.proj.weight.grad is None
    assert model.stages[2].patch_embed.proj.weight.grad is not None


def test_norm_eval_keeps_batchnorm_statistics():
    model = VAN(arch='b0', norm_eval=True)
    model.train()
    bn = model.stages[3].blocks[0].norm1
    before = bn.running_mean.clone()
    model(torch.randn(2, 3, 64, 64) * 5 + 3)
    assert not bn.training
    assert torch.equal(bn.running_mean, before)


def test_drop_path_rises_linearly_to_the_given_rate():
    model = VAN(arch='b0', drop_path_rate=0.3)
    rates = [b.drop_path.drop_prob if hasattr(b.drop_path, 'drop_prob') else 0.0
             for s in model.stages for b in s.blocks]
    assert rates[0] == 0.0
    assert rates[-1] == pytest.approx(0.3)
    assert all(b >= a for a, b in zip(rates, rates[1:]))


def test_matches_mmpretrain_van_after_conversion():
    """mmpretrain's VAN is an independent implementation: same weights, same outputs."""
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    reference = randomize_(MMPretrainVAN(arch='tiny', out_indices=(0, 1, 2, 3)))
    for m in reference.modules():  # mmpretrain's stage norms: eps 1e-5, the official 1e-6
        if isinstance(m, nn.LayerNorm):
            m.eps = OFFICIAL_STAGE_NORM_EPS
    model = VAN(arch='b0').eval()
    model.load_state_dict(convert_van_state_dict(reference.state_dict()), strict=True)
    x = torch.randn(2, 3, 75, 61)
    with torch.no_grad():
        for ours, theirs in zip(model(x), reference(x)):
            torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_switch_to_deploy_matches_and_removes_batchnorm():
    model = randomize_(VAN(arch='b0'), seed=2)
    x = torch.randn(2, 3, 96, 80)
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        fused = model(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    for a, b in zip(fused, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_pretrained_init_cfg_loads_converted_checkpoint(tmp_path):
    source = randomize_(VAN(arch='b0'), seed=3)
    path = tmp_path / 'van_b0_mmfreq.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    model = VAN(arch='b0', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_default_init_is_he_normal_over_fan_out():
    torch.manual_seed(0)
    model = VAN(arch='b0')
    model.init_weights()
    conv = model.stages[2].blocks[0].mlp.fc1  # 1x1 conv, fan_out = 640
    assert conv.weight.std().item() == pytest.approx((2 / 640) ** 0.5, rel=0.05)
    assert torch.count_nonzero(conv.bias) == 0


@pytest.mark.slow  # dynamo traces the backbone twice or more: a minute on 2 loaded cores
def test_compiles_without_graph_breaks_and_equal_to_eager():
    """At most one recompile for sizes whose stage grids differ modulo LKA's
    dilation (3): a layout that depended on the residue made torch.compile
    recompile per combination, up to its cache limit. (Inputs of 97 pixels or
    more: below, the last stage's sub-grids have one row, which dynamo
    specialises.)"""
    model = randomize_(VAN(arch=dict(embed_dims=[8, 16, 24, 32], depths=[1, 1, 1, 1],
                                     mlp_ratios=[2, 2, 2, 2])), seed=5)
    sizes = [(100, 108), (112, 130), (124, 100), (136, 145), (150, 118)]
    assert_compiles_like_eager(model, [(torch.randn(1, 3, *size),) for size in sizes],
                               backend='aot_eager')
