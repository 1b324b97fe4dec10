"""FDAM on mmseg's ViT (class token, the host of mmseg's DeiT-S UperNet):
FDAMVisionTransformer against the installed mmseg module, its weight layouts,
FDAM's parts with a class token, compile and export, and its configs."""
import re

import pytest
import torch

from mmfreq.errors import UserError
from mmfreq.models.backbones.fdam_vision_transformer import FDAMVisionTransformer
from mmfreq.testing.compile import assert_compiles_like_eager
from mmfreq.testing.tools import ROOT, read_config
from mmfreq.utils.weights import load_pretrained_weights

# a router of 24 units, not 3: a random one of 3 may be all ReLU-dead
SMALL_FREQ = dict(groups=4, num_filters=2, basis_size=6, router_ratio=0.5)
# mmseg's DeiT-S UperNet backbone arguments (upernet_vit-b16_ln_mln.py and
# vit_deit-s16_upernet_8xb2-160k_ade20k-512x512.py) at a tenth of the width
# and a third of the depth
MMSEG_ARGS = dict(img_size=(64, 64), patch_size=16, embed_dims=48, num_layers=4, num_heads=3,
                  mlp_ratio=4, out_indices=(0, 1, 2, 3), qkv_bias=True, drop_path_rate=0.1,
                  with_cls_token=True, norm_cfg=dict(type='LN', eps=1e-6),
                  act_cfg=dict(type='GELU'), norm_eval=False, interpolate_mode='bicubic',
                  final_norm=False)
FDAM_OFF = dict(att_inv=False, freq_scale=False)
SIZES = [(64, 64), (97, 131), (33, 50), (128, 96), (16, 200)]


def mmseg_vit(**overrides) -> torch.nn.Module:
    """The installed mmseg's VisionTransformer, every parameter random."""
    from mmseg.models.backbones import VisionTransformer
    torch.manual_seed(0)
    model = VisionTransformer(**{**MMSEG_ARGS, **overrides})
    randomise_(model)
    model.eval()  # mmseg's train() returns None
    return model


def randomise_(module: torch.nn.Module) -> None:
    """Move every parameter off its initial value so that each term matters."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


# mmseg's names -> the DeiT release's (the reverse of mmseg's tools/model_converters/vit2mmseg.py)
MMSEG_TO_DEIT = [('.ln1.', '.norm1.'), ('.ln2.', '.norm2.'),
                 ('.attn.attn.in_proj_', '.attn.qkv.'), ('.attn.attn.out_proj.', '.attn.proj.'),
                 ('.ffn.layers.0.0.', '.mlp.fc1.'), ('.ffn.layers.1.', '.mlp.fc2.'),
                 ('patch_embed.projection.', 'patch_embed.proj.')]


def deit_release_state(mmseg_state: dict) -> dict:
    deit = {}
    for key, value in mmseg_state.items():
        key = 'norm.' + key[4:] if key.startswith('ln1.') else key
        key = 'blocks.' + key[7:] if key.startswith('layers.') else key
        for old, new in MMSEG_TO_DEIT:
            key = key.replace(old, new)
        deit[key] = value
    deit['head.weight'], deit['head.bias'] = torch.zeros(1000, 48), torch.zeros(1000)
    return deit


def assert_outputs_equal(ours, theirs) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, (list, tuple)):  # output_cls_token: [grid, class token]
            assert_outputs_equal(a, b)
            continue
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('options', [
    dict(),
    dict(with_cls_token=False, final_norm=False, pre_norm=True, patch_norm=True,
         interpolate_mode='bilinear', out_indices=-1),
    dict(output_cls_token=True, out_indices=(1, 3), final_norm=True, patch_bias=True),
])
def test_fdam_off_equals_mmseg_vision_transformer(tmp_path, options):
    """mmseg's own checkpoint layout, loaded strictly; outputs within 1e-5 at
    sizes that are no multiple of the patch and grids of another shape."""
    theirs = mmseg_vit(**options)
    path = tmp_path / 'mmseg_vit.pth'
    torch.save({'state_dict': theirs.state_dict()}, path)
    ours = FDAMVisionTransformer(**{**MMSEG_ARGS, **options}, **FDAM_OFF,
                                 init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in theirs.parameters())
    # stochastic depth rising over the layers as in mmseg's MLP branches (training
    # only; mmseg 1.x has none on the attention branch, mmseg 0.x and ours do)
    assert [layer.drop_path_rate for layer in ours.layers] == \
        [getattr(layer.ffn.dropout_layer, 'drop_prob', 0.0) for layer in theirs.layers]
    with torch.no_grad():
        for size in SIZES:
            x = torch.randn(2, 3, *size)
            assert_outputs_equal(ours(x), theirs(x))


def test_deit_release_and_mmseg_layouts_load_strictly_fdam_keys_new(tmp_path):
    """The DeiT release at 224 px (its head dropped) and mmseg's converted file
    give the same network as mmseg's VisionTransformer loading the converted
    file (its position embedding resized from 14 x 14 to 4 x 4 by both)."""
    release = mmseg_vit(img_size=224)
    mmseg_path, deit_path = tmp_path / 'vit2mmseg.pth', tmp_path / 'deit_small.pth'
    torch.save({'state_dict': release.state_dict()}, mmseg_path)
    torch.save({'model': deit_release_state(release.state_dict())}, deit_path)
    theirs = mmseg_vit(init_cfg=dict(type='Pretrained', checkpoint=str(mmseg_path)))
    theirs.init_weights()
    x = torch.randn(1, 3, 70, 90)
    theirs.eval()
    with torch.no_grad():
        expected = theirs(x)
    for path in (mmseg_path, deit_path):
        ours = FDAMVisionTransformer(**MMSEG_ARGS, freq_scale_cfg=SMALL_FREQ)
        new = load_pretrained_weights(ours, str(path))
        fdam = [k for k in ours.state_dict() if 'att_inv' in k or 'freq_scale' in k]
        assert sorted(new) == sorted(fdam) and len(fdam) == 4 * (8 + 2 * 5)
        # FDAM off on the same weights: mmseg's outputs
        plain = FDAMVisionTransformer(**MMSEG_ARGS, **FDAM_OFF)
        assert load_pretrained_weights(plain, str(path)) == []
        with torch.no_grad():
            assert_outputs_equal(plain.eval()(x), expected)


def test_file_of_another_layout_names_file_layouts_and_first_keys(tmp_path):
    from mmseg.models.backbones import MixVisionTransformer
    path = tmp_path / 'mit_b0.pth'
    torch.save({'state_dict': MixVisionTransformer(embed_dims=32).state_dict()}, path)
    model = FDAMVisionTransformer(**MMSEG_ARGS, init_cfg=dict(type='Pretrained',
                                                              checkpoint=str(path)))
    with pytest.raises(ValueError) as err:
        model.init_weights()
    message = str(err.value)
    assert '\n' not in message
    assert 'mit_b0.pth is not a FDAMVisionTransformer checkpoint' in message
    assert "mmseg's VisionTransformer (vit2mmseg.py)" in message  # a layout it tried
    assert 'layers.0.0.projection.bias' in message  # MiT's first keys


def test_deit_file_of_another_width_names_the_shapes(tmp_path):
    path = tmp_path / 'deit_base.pth'
    release = mmseg_vit(embed_dims=96, num_heads=6)
    torch.save({'model': deit_release_state(release.state_dict())}, path)
    model = FDAMVisionTransformer(**MMSEG_ARGS, init_cfg=dict(type='Pretrained',
                                                              checkpoint=str(path)))
    with pytest.raises(ValueError, match=r'deit_base\.pth \(read as DeiT / timm ViT release'
                                         r'.*cls_token \(1, 1, 96\) in the file, '
                                         r'\(1, 1, 48\) in the model'):
        model.init_weights()


def fdam_model(**overrides) -> FDAMVisionTransformer:
    torch.manual_seed(0)
    model = FDAMVisionTransformer(**{**MMSEG_ARGS, 'freq_scale_cfg': SMALL_FREQ, **overrides})
    randomise_(model)
    return model


@pytest.mark.parametrize('options, error', [
    (dict(img_size=512.0), TypeError),
    (dict(out_indices=1.), TypeError),
    (dict(img_size=(224, 224, 224)), AssertionError),
    (dict(pretrained=123), TypeError),
    (dict(with_cls_token=False, output_cls_token=True), AssertionError),
    (dict(pretrained='a.pth', init_cfg=dict(type='Pretrained', checkpoint='a.pth')),
     AssertionError),
    (dict(pretrained=123, init_cfg=123), AssertionError),
])
def test_bad_arguments_raise_mmsegs_error_types(options, error):
    """The arguments mmseg's own test_vit.py refuses, refused with the type
    mmseg raises, which is also mmfreq's UserError, naming the argument."""
    with pytest.raises(error, match=next(iter(options))) as info:
        FDAMVisionTransformer(**options)
    assert isinstance(info.value, UserError)


def test_a_3d_or_wrongly_channelled_input_names_the_expected_shape():
    model = FDAMVisionTransformer(embed_dims=32, num_layers=1, num_heads=2,
                                  freq_scale_cfg=SMALL_FREQ)
    for shape in [(3, 30, 30), (1, 4, 30, 30)]:
        with pytest.raises(IndexError, match=re.escape(f'N x 3 x H x W image batch, got a '
                                                       f'tensor of shape {shape}')) as info:
            model(torch.randn(shape))
        assert isinstance(info.value, UserError) and isinstance(info.value, RuntimeError)


@pytest.mark.parametrize('fdam', [dict(freq_scale_cfg=SMALL_FREQ), FDAM_OFF], ids=['on', 'off'])
def test_shapes_mmsegs_own_vit_test_asks_for(fdam, tmp_path):
    """mmseg's test_vit.py cases at a smaller width: img_size=(224, ), every
    input size it tries, its switches, the class-token output, and a missing
    pretrained file (OSError on init_weights)."""
    small = dict(embed_dims=32, num_layers=2, num_heads=2, **fdam)
    model = FDAMVisionTransformer(img_size=(224, ), **small)
    model.init_weights()
    assert model.pretrain_grid == (14, 14)
    with torch.no_grad():
        for (h, w), grid in [((224, 224), (14, 14)), ((256, 256), (16, 16)), ((32, 32), (2, 2)),
                             ((112, 224), (7, 14)), ((234, 345), (15, 22))]:
            assert model(torch.randn(1, 3, h, w))[-1].shape == (1, 32, *grid)
        for options in [dict(with_cp=True), dict(with_cls_token=False), dict(final_norm=True),
                        dict(patch_norm=True), dict(norm_eval=True)]:
            out = FDAMVisionTransformer(**small, **options).train()(torch.randn(1, 3, 224, 224))
            assert out[-1].shape == (1, 32, 14, 14)
        grid, cls_token = FDAMVisionTransformer(**small, output_cls_token=True)(
            torch.randn(1, 3, 224, 224))[0]
    assert grid.shape == (1, 32, 14, 14) and cls_token.shape == (1, 32)
    missing = FDAMVisionTransformer(**small, pretrained=str(tmp_path / 'missing.pth'))
    with pytest.raises(OSError):
        missing.init_weights()


def test_freq_scale_filters_the_patch_grid_and_passes_the_class_token():
    """With FreqScale the grid tokens change and the class token does not: a
    block's class-token output equals the same block's without FreqScale."""
    block = fdam_model(att_inv=False, drop_path_rate=0.0).eval().layers[0]
    x, grid = torch.randn(2, 1 + 3 * 5, 48), (3, 5)
    with torch.no_grad():
        with_fs = block(x, grid)
        block.attn_freq_scale = block.ffn_freq_scale = None
        without = block(x, grid)
    torch.testing.assert_close(with_fs[:, 0], without[:, 0], rtol=0, atol=0)
    assert (with_fs[:, 1:] - without[:, 1:]).abs().max() > 1e-3


def test_gradients_reach_every_fdam_parameter():
    model = fdam_model().train()
    outs = model(torch.randn(2, 3, 50, 70))
    sum(o.square().mean() for o in outs).backward()
    fdam = {n: p for n, p in model.named_parameters() if 'att_inv' in n or 'freq_scale' in n}
    assert len(fdam) == 4 * (8 + 2 * 5)
    no_grad = [n for n, p in fdam.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not no_grad


@pytest.mark.slow  # AOT autograd tracing of forward and backward: about two minutes
def test_compiles_without_graph_breaks_and_trains_like_eager():
    """One graph for the first size (else the breaks are named), at most two
    for both; outputs and every parameter's gradient equal to eager."""
    model = fdam_model(num_layers=1, out_indices=0, drop_path_rate=0.0).train()
    assert_compiles_like_eager(model, [(torch.randn(2, 3, 48, 64),), (torch.randn(2, 3, 80, 40),)],
                               backend='aot_eager', backward=True)


def mmseg_config_path(name: str) -> str:
    import os.path as osp

    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', name)


def param_settings(model: torch.nn.Module, cfg) -> dict:
    """name -> (lr, weight decay) of the optim wrapper the config builds for ``model``."""
    from mmengine.optim import build_optim_wrapper
    names = {id(p): n for n, p in model.named_parameters()}
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return {names[id(p)]: (group['lr'], group['weight_decay'])
            for group in wrapper.optimizer.param_groups for p in group['params']}


def test_upernet_deit_s_is_mmsegs_model_and_recipe():
    """upernet_deit_s.py against mmseg's vit_deit-s16_upernet_8xb2-160k config: the
    same segmentor output on the same weights (mmseg 1.x's ViT has no patch bias:
    ours is set to zero), the same lr and weight decay for every parameter, and
    160k iterations where mmseg 1.2's file inherits its 80k base."""
    from mmengine.config import Config

    from mmfreq.apis import build_model_from_config
    from mmfreq.models.backbones.fdam_vision_transformer import convert_vit_state_dict
    mmseg_cfg = Config.fromfile(mmseg_config_path(
        'vit/vit_deit-s16_upernet_8xb2-160k_ade20k-512x512.py'))
    mmseg_cfg.model.pretrained = None
    cfg = read_config(ROOT / 'configs' / 'upernet_deit_s.py')
    cfg.model.backbone.init_cfg = None
    for c in (cfg, mmseg_cfg):  # 4 of the 12 layers, to keep the test fast
        c.model.backbone.update(num_layers=4, out_indices=(0, 1, 2, 3))
    torch.manual_seed(0)
    theirs, ours = build_model_from_config(mmseg_cfg), build_model_from_config(cfg)
    state = theirs.state_dict()
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    to_ours = dict(zip(backbone, convert_vit_state_dict(backbone, (32, 32))))
    converted = {('backbone.' + to_ours[k[9:]] if k.startswith('backbone.') else k): v
                 for k, v in state.items()}
    converted['backbone.patch_embed.proj.bias'] = torch.zeros(384)
    ours.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, 80, 112)
    with torch.no_grad():
        got, expected = ours(x), theirs(x)
    # four blocks and the heads in fp32: within 1e-5 of the logits' scale
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())

    ours_settings = param_settings(ours, cfg)
    for name, setting in param_settings(theirs, mmseg_cfg).items():
        mapped = 'backbone.' + to_ours[name[9:]] if name.startswith('backbone.') else name
        assert ours_settings.pop(mapped) == setting, name
    assert list(ours_settings) == ['backbone.patch_embed.proj.bias']
    assert mmseg_cfg.train_cfg.max_iters == mmseg_cfg.param_scheduler[1].end == 80000
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[1].end == 160000
    assert cfg.param_scheduler[0] == mmseg_cfg.param_scheduler[0]


def test_fdam_config_differs_by_fdam_and_freq_scale_lr():
    base = read_config(ROOT / 'configs' / 'upernet_deit_s.py')
    fdam = read_config(ROOT / 'configs' / 'upernet_deit_s_fdam.py')
    assert fdam.model.backbone.pop('att_inv') and fdam.model.backbone.pop('freq_scale')
    base.model.backbone.pop('att_inv'), base.model.backbone.pop('freq_scale')
    assert fdam.model == base.model
    custom = fdam.optim_wrapper.paramwise_cfg.custom_keys
    assert custom.pop('freq_scale') == dict(lr_mult=2.0)
    assert fdam.optim_wrapper == base.optim_wrapper


@pytest.mark.slow  # a subprocess training run
def test_fdam_synthetic_config_trains_and_validates(tmp_path, synthetic_root):
    from mmfreq.testing.tools import run_tool, small_run_options
    result = run_tool(['tools/train.py', ROOT / 'configs' / 'upernet_deit_s_fdam_synthetic.py',
                       '--work-dir', tmp_path, '--cfg-options',
                       *small_run_options(synthetic_root, max_iters=2, interval=2)])
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (tmp_path / 'iter_2.pth').is_file()
    assert re.search(r'Iter\(val\) \[\d+/\d+\].*mIoU: \d+\.\d+', result.stdout + result.stderr)


@pytest.mark.slow  # a subprocess export and onnxruntime check
def test_fdam_synthetic_config_exports_to_onnx(tmp_path):
    pytest.importorskip('onnxruntime')
    from mmfreq.testing.tools import run_tool
    out = tmp_path / 'deit_fdam.onnx'
    result = run_tool(['tools/deployment/pytorch2onnx.py',
                       ROOT / 'configs' / 'upernet_deit_s_fdam_synthetic.py', '--shape', '96',
                       '144', '--out', out])  # a 12 x 18 grid: UPerHead's 6x6 pooling divides it
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    # the tool's own checks: random input and a photograph against PyTorch
    diffs = [float(d) for d in re.findall(r'max abs diff (\S+) ', result.stdout)]
    assert len(diffs) >= 2 and max(diffs) <= 1e-4, result.stdout
    assert out.stat().st_size > 10_000
