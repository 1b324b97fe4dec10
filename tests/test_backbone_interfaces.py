"""mmfreq's backbones as drop-ins for the host toolboxes' counterparts.

Each property of mmpretrain's VAN test, mmdet's Swin test and mmseg's ViT
test is checked here against the host's own backbone (built beside mmfreq's
with the constructor names translated), not against numbers copied from
those tests. Where mmfreq differs on purpose, the test pins the difference
that the backbone's docstring states.
"""
import pytest
import torch
import torch.nn as nn

from mmfreq.models import AAResNet, FDAMDeiT3, FocalTransformer
from mmfreq.models.backbones import VAN


def frozen_names(model: nn.Module) -> set:
    return {name for name, p in model.named_parameters() if not p.requires_grad}


def shapes(outs) -> list:
    return [tuple(o.shape) for o in outs]


# ------------------------------------------------------------ VAN vs mmpretrain's VAN

@pytest.mark.parametrize('arch', ['t', 'tiny', 's', 'small', 'b', 'base', 'l', 'large'])
def test_van_takes_mmpretrains_arch_names_with_their_meaning(arch):
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    theirs = MMPretrainVAN.arch_zoo[arch]
    ours = VAN.arch_zoo[arch]
    assert (ours['embed_dims'], ours['depths'], ours['mlp_ratios']) == \
        (theirs['embed_dims'], theirs['depths'], theirs['ffn_ratios'])


def test_van_custom_arch_with_ffn_ratios_builds_mmpretrains_network():
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    arch = dict(embed_dims=[8, 16, 24, 32], depths=[1, 2, 1, 1], ffn_ratios=[2, 4, 2, 2])
    ours, theirs = VAN(arch=arch), MMPretrainVAN(arch=arch)
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in theirs.parameters())
    with pytest.raises(ValueError, match="keys .*'depths'"):  # mmpretrain: AssertionError
        VAN(arch=dict(embed_dims=[8, 16, 24, 32], ffn_ratios=[2, 2, 2, 2]))


@pytest.mark.parametrize('patch_sizes,size', [((7, 3, 3, 3), (64, 64)),
                                              ((7, 5, 5, 5), (70, 93)),
                                              ((5, 3, 3, 3), (70, 93))])
def test_van_patch_sizes_and_out_indices_give_mmpretrains_shapes(patch_sizes, size):
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    x = torch.randn(1, 3, *size)
    for out_indices in [(3, ), (0, 1, 2, 3), (1, 2)]:
        ours = VAN(arch='t', patch_sizes=patch_sizes, out_indices=out_indices).eval()
        theirs = MMPretrainVAN(arch='t', patch_sizes=list(patch_sizes), out_indices=out_indices)
        theirs.eval()  # (mmpretrain's train() returns None)
        with torch.no_grad():
            assert shapes(ours(x)) == shapes(theirs(x))


def test_van_out_indices_int_and_negative():
    x = torch.randn(1, 3, 64, 64)
    model = VAN(arch='t', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        every = model(x)
        assert shapes(VAN(arch='t', out_indices=3).eval()(x)) == shapes(every[3:])
        assert shapes(VAN(arch='t', out_indices=(-1, -3)).eval()(x)) == \
            shapes([every[1], every[3]])


def test_van_norm_cfg_of_mmpretrains_meaning_is_refused_at_build_time():
    with pytest.raises(ValueError, match=r'LayerNorm.*leave norm_cfg out'):
        VAN(arch='t', norm_cfg=dict(type='LN'))
    VAN(arch='t', norm_cfg=dict(type='SyncBN'))  # the block norm: builds


@pytest.mark.parametrize('frozen', [0, 1, 2, 3])
def test_van_frozen_stages_is_one_more_than_mmpretrains(frozen):
    """mmfreq: k freezes the stem and k stages; mmpretrain's VAN: k freezes k + 1 stages."""
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    theirs = MMPretrainVAN(arch='t', frozen_stages=frozen - 1 if frozen else -1)
    ours = VAN(arch='t', frozen_stages=frozen)
    ours.train()
    theirs.train()
    count = sum(p.numel() for p in ours.parameters() if not p.requires_grad)
    stem = sum(p.numel() for p in ours.stages[0].patch_embed.parameters())
    assert count == (stem if frozen == 0 else
                     sum(p.numel() for p in theirs.parameters() if not p.requires_grad))
    assert not ours.stages[0].patch_embed.training


def test_van_accepts_mmengine_initialisers():
    model = VAN(arch='t', init_cfg=[dict(type='Kaiming', layer='Conv2d', mode='fan_in',
                                         nonlinearity='linear')])
    before = model.stages[0].patch_embed.proj.weight.clone()
    model.init_weights()
    assert not torch.equal(before, model.stages[0].patch_embed.proj.weight)


# ------------------------------------------------------------ FocalTransformer vs mmdet's Swin

SMALL_FOCAL = dict(embed_dims=32, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8))


@pytest.mark.parametrize('frozen', [-1, 0, 1, 2, 4])
def test_focal_frozen_stages_freezes_what_mmdets_swin_freezes(frozen):
    from mmdet.models.backbones import SwinTransformer

    swin = SwinTransformer(**SMALL_FOCAL, frozen_stages=frozen)
    focal = FocalTransformer(arch=SMALL_FOCAL, frozen_stages=frozen)
    swin.train()
    focal.train()

    def groups(names, stage_prefix):
        found = set()
        for name in names:
            parts = name.split('.')
            found.add('.'.join(parts[:2]) if parts[0] == stage_prefix else parts[0])
        return found

    assert groups(frozen_names(focal), 'layers') == \
        {g.replace('stages.', 'layers.') for g in groups(frozen_names(swin), 'stages')}


@pytest.mark.parametrize('bad', [(4, ), (-5, ), (0, 7)])
def test_focal_out_indices_out_of_range_name_the_valid_range(bad):
    with pytest.raises(ValueError, match=r'out_indices=.*-4\.\.3'):
        FocalTransformer(arch=SMALL_FOCAL, out_indices=bad)
    with pytest.raises(ValueError, match=r'frozen_stages=5.*k <= 4'):
        FocalTransformer(arch=SMALL_FOCAL, frozen_stages=5)


def test_focal_negative_out_indices_count_from_the_end():
    """mmdet's Swin returns nothing for -1 (documented difference); mmfreq the last stage."""
    from mmdet.models.backbones import SwinTransformer

    x = torch.randn(1, 3, 64, 64)
    swin = SwinTransformer(**SMALL_FOCAL, out_indices=(1, 3))
    swin.eval()  # (mmdet's Swin train() returns None)
    with torch.no_grad():
        expected = shapes(swin(x))
        assert shapes(FocalTransformer(arch=SMALL_FOCAL, out_indices=(-3, -1)).eval()(x)) == \
            expected
        assert shapes(FocalTransformer(arch=SMALL_FOCAL, out_indices=3).eval()(x)) == \
            expected[1:]


# ------------------------------------------------------------ FDAMDeiT3 vs mmseg's ViT

SMALL_VIT = dict(embed_dims=64, num_layers=3, num_heads=4, feedforward_channels=128)


@pytest.mark.parametrize('img_size,out_indices', [(64, -1), ((64, 64), 2), ((48, 80), (0, 2)),
                                                  ((48, 80), -1)])
def test_fdam_vit_img_size_and_out_indices_as_mmseg_vit(img_size, out_indices):
    from mmseg.models.backbones import VisionTransformer

    vit = VisionTransformer(img_size=img_size, embed_dims=64, num_layers=3, num_heads=4,
                            mlp_ratio=2, out_indices=out_indices)
    vit.eval()  # (mmseg's train() returns None)
    ours = FDAMDeiT3(arch=SMALL_VIT, img_size=img_size, out_indices=out_indices).eval()
    grid = (img_size, img_size) if isinstance(img_size, int) else img_size
    assert ours.pos_embed.shape == (1, grid[0] // 16 * grid[1] // 16, 64)
    x = torch.randn(1, 3, *grid)
    with torch.no_grad():
        assert shapes(ours(x)) == shapes(vit(x))


def test_fdam_vit_negative_out_indices_in_a_sequence_count_from_the_end():
    """mmseg's ViT matches only -1; a negative index in a sequence selects nothing there."""
    model = FDAMDeiT3(arch=SMALL_VIT, img_size=32, out_indices=(-3, -1))
    assert model.out_indices == (0, 2)


def test_fdam_vit_out_indices_out_of_range_name_the_valid_range():
    with pytest.raises(ValueError, match=r'out_indices=3 .*-3\.\.2'):
        FDAMDeiT3(arch=SMALL_VIT, out_indices=3)
    with pytest.raises(ValueError, match=r"img_size=\(1, 2, 3\)"):
        FDAMDeiT3(arch=SMALL_VIT, img_size=(1, 2, 3))


def test_fdam_vit_frozen_stages_freezes_the_stem_and_first_layers():
    model = FDAMDeiT3(arch=SMALL_VIT, frozen_stages=2)
    model.train()
    frozen = frozen_names(model)
    assert {'pos_embed', 'patch_embed.proj.weight'} <= frozen
    assert {n.split('.')[1] for n in frozen if n.startswith('layers.')} == {'0', '1'}
    assert not model.layers[1].training and model.layers[2].training


# ------------------------------------------------------------ shared conventions

@pytest.mark.parametrize('build,valid', [
    (lambda: VAN(arch='huge'), ['b0', 'tiny', 't']),
    (lambda: FocalTransformer(arch='huge'), ['tiny', 'small', 'base']),
    (lambda: FDAMDeiT3(arch='huge'), ['small', 'base', 'large']),
    (lambda: AAResNet(depth=18), ['50', '101', '152']),
])
def test_unknown_arch_is_a_value_error_naming_the_valid_ones(build, valid):
    with pytest.raises(ValueError) as info:
        build()
    assert all(name in str(info.value) for name in valid)


@pytest.mark.parametrize('build', [
    lambda frozen: VAN(arch='t', frozen_stages=frozen),
    lambda frozen: FocalTransformer(arch=SMALL_FOCAL, frozen_stages=frozen),
    lambda frozen: FDAMDeiT3(arch=SMALL_VIT, frozen_stages=frozen),
    lambda frozen: AAResNet(depth=50, frozen_stages=frozen),
])
def test_frozen_stages_zero_freezes_only_the_stem(build):
    assert not frozen_names(build(-1).train())
    stem = frozen_names(build(0).train())
    assert stem and all(not name.startswith(('layers', 'layer1', 'stages.0.blocks',
                                             'stages.1')) for name in stem)
    assert stem < frozen_names(build(1).train())
    with pytest.raises(ValueError, match='frozen_stages=-2'):
        build(-2)


def test_aa_resnet_out_indices_name_the_valid_range():
    with pytest.raises(ValueError, match=r'out_indices=\(4,\).*-4\.\.3'):
        AAResNet(50, out_indices=(4, ))
    model = AAResNet(50, out_indices=-1, stage_with_aa=(False, False, False, True)).eval()
    with torch.no_grad():
        assert shapes(model(torch.randn(1, 3, 64, 64))) == [(1, 2048, 2, 2)]


def test_pretrained_argument_means_a_pretrained_init_cfg(tmp_path):
    """mmdet's Swin and mmseg's ViT take ``pretrained``; mmseg's EncoderDecoder passes it on."""
    from mmengine.config import ConfigDict
    from mmengine.registry import init_default_scope
    from mmseg.models.segmentors import EncoderDecoder

    init_default_scope('mmseg')  # FCNHead: an earlier test may have left mmdet's scope
    source = VAN(arch='t').eval()
    path = tmp_path / 'van_t.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    segmentor = EncoderDecoder(
        backbone=ConfigDict(type='mmfreq.VAN', arch='t'), pretrained=str(path),
        decode_head=dict(type='FCNHead', in_channels=256, channels=8, num_classes=2,
                         in_index=3))
    segmentor.init_weights()
    assert torch.equal(segmentor.backbone.stages[3].norm.weight, source.stages[3].norm.weight)
    for build in (VAN, FocalTransformer, FDAMDeiT3):
        with pytest.raises(ValueError, match='not both'):
            build(pretrained=str(path), init_cfg=dict(type='Pretrained', checkpoint='x.pth'))
