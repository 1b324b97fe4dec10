"""The released trained models, evaluated as published: official whole-model files
(VAN-Segmentation's Semantic-FPN and UperNet, FDAM's UperNet; mmseg 0.x) through
``init_model``, the converter, ``tools/test.py`` and ``tools/train.py``'s ``load_from``.

The official files are random tensors named and shaped as the releases, read
from fixtures (``tests/data/official_models``) dumped from the official model
code and configs; the reference each test compares with takes the file's
tensors by a separate path (the official VAN computed from its tensors by their
official names, the heads' own names, the official neck's formula), never
through mmfreq's conversion.
"""
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mmfreq.apis import build_model_from_config, init_model
from mmfreq.testing.fixtures import ADE_META, MODEL_FIXTURES, official_file, release_tensors
from mmfreq.testing.messages import line_with
from mmfreq.testing.tools import ROOT, read_config, run_tool, small_run_options
from mmfreq.utils.weights import (
    convert_checkpoint_file,
    convert_model_state,
    diff_keys,
    load_model_weights,
)

CONFIGS = ROOT / 'configs'


class OfficialFiles(dict):
    """Official files by fixture name, each written once when first asked for."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, name: str) -> Path:
        self[name] = official_file(name, self.folder / f'{name}.pth')
        return self[name]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return OfficialFiles(tmp_path_factory.mktemp('released'))


def logits(model, size=(64, 96)) -> torch.Tensor:
    torch.manual_seed(1)
    with torch.no_grad():
        return model(torch.randn(1, 3, *size))


def official_van_features(t: dict, x: torch.Tensor) -> list:
    """The official VAN-Segmentation backbone (``tools/van.py``: OverlapPatchEmbed,
    Block, SpatialAttention, AttentionModule, Mlp with DWConv), computed from
    the file's tensors by their official names; BatchNorm in eval mode, the
    stage LayerNorms with torch's default eps (``nn.LayerNorm(embed_dims[i])``)."""
    def bn(v, name):
        return F.batch_norm(v, t[name + 'running_mean'], t[name + 'running_var'],
                            t[name + 'weight'], t[name + 'bias'], training=False, eps=1e-5)

    def conv(v, name, **kwargs):
        return F.conv2d(v, t[name + 'weight'], t[name + 'bias'], **kwargs)

    outs = []
    for i in range(1, 5):
        kernel = t[f'patch_embed{i}.proj.weight'].shape[-1]
        x = bn(conv(x, f'patch_embed{i}.proj.', stride=4 if i == 1 else 2, padding=kernel // 2),
               f'patch_embed{i}.norm.')
        c = x.shape[1]
        j = 0
        while f'block{i}.{j}.norm1.weight' in t:
            b = f'block{i}.{j}.'
            gating = b + 'attn.spatial_gating_unit.'
            y = bn(x, b + 'norm1.')
            u = F.gelu(conv(y, b + 'attn.proj_1.'))
            lka = conv(conv(conv(u, gating + 'conv0.', padding=2, groups=c),
                            gating + 'conv_spatial.', padding=9, dilation=3, groups=c),
                       gating + 'conv1.')
            y = conv(u * lka, b + 'attn.proj_2.') + y
            x = x + t[b + 'layer_scale_1'][:, None, None] * y
            hidden = conv(bn(x, b + 'norm2.'), b + 'mlp.fc1.')
            dw = b + ('mlp.dwconv.dwconv.' if b + 'mlp.dwconv.dwconv.weight' in t
                      else 'mlp.dwconv.')  # mmseg 1.x projects/van: one level less
            hidden = F.gelu(conv(hidden, dw, padding=1, groups=hidden.shape[1]))
            x = x + t[b + 'layer_scale_2'][:, None, None] * conv(hidden, b + 'mlp.fc2.')
            j += 1
        x = F.layer_norm(x.permute(0, 2, 3, 1), (c,), t[f'norm{i}.weight'], t[f'norm{i}.bias'],
                         eps=1e-5).permute(0, 3, 1, 2)
        outs.append(x)
    return outs


class OfficialVANFromFile(torch.nn.Module):
    """The official VAN backbone over a file's ``backbone.`` tensors."""

    def __init__(self, state: dict) -> None:
        super().__init__()
        self.tensors = {k[len('backbone.'):]: v for k, v in state.items()
                        if k.startswith('backbone.')}

    def forward(self, x: torch.Tensor) -> tuple:
        return tuple(official_van_features(self.tensors, x))


def reference_model(config: str, path: Path):
    """The config's model with the official VAN backbone computed from the
    file's tensors (no mmfreq conversion) and every other part given the
    file's tensors under their own names."""
    model = build_model_from_config(read_config(CONFIGS / config))
    state = torch.load(path, weights_only=True)['state_dict']
    model.backbone = OfficialVANFromFile(state)
    for part in ('neck', 'decode_head', 'auxiliary_head'):
        if hasattr(model, part):
            getattr(model, part).load_state_dict(
                {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + '.')})
    return model.eval()


@pytest.mark.parametrize('config, name, layout', [
    ('fpn_van_b0_ade20k_released.py', 'van_b0_fpn_ade20k', 'official VAN-Segmentation release'),
    # a full-size UperNet file (230 MB) and a second layout of the same model
    pytest.param('upernet_van_b2_ade20k_released.py', 'van_b2_upernet_ade20k',
                 'official VAN-Segmentation release', marks=pytest.mark.slow),
    pytest.param('fpn_van_b0_ade20k_released.py', 'van_b0_fpn_ade20k_mmseg_projects',
                 'mmseg 1.x projects/van', marks=pytest.mark.slow),
])
def test_official_van_file_predicts_as_its_parts(files, config, name, layout, tmp_path):
    model = init_model(read_config(CONFIGS / config), str(files[name]))
    expected = logits(reference_model(config, files[name]))
    got = logits(model)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())
    assert model.dataset_meta['classes'] == ADE_META['CLASSES']
    assert model.dataset_meta['palette'][3] == [3, 252, 1]

    converted = tmp_path / 'mmfreq.pth'
    assert convert_checkpoint_file(model, str(files[name]),
                                   str(converted)).startswith(f'read as {layout}')
    again = build_model_from_config(read_config(CONFIGS / config))
    load_model_weights(again, str(converted))
    assert torch.equal(logits(again), got)
    meta = torch.load(converted, weights_only=True)['meta']
    assert meta['dataset_meta']['classes'] == ADE_META['CLASSES']


@pytest.mark.parametrize('config', sorted(p.name for p in CONFIGS.glob('*_van_b*_released.py')))
def test_released_van_models_end_stages_with_the_eps_they_were_trained_with(config):
    """VAN-Segmentation's tools/van.py: nn.LayerNorm(embed_dims[i]), torch's 1e-5
    (1e-6 moves the released models' stage outputs by up to 3e-4)."""
    assert read_config(CONFIGS / config).model.backbone.stage_norm_eps == 1e-5


def test_official_fdam_neck_tensors_make_the_official_pyramid():
    """SimpleMultiLevelNeck: fpn1 = deconv, BN, GELU, deconv; fpn2 = deconv;
    fpn3 identity; fpn4 2x2 max-pool (FDAM_mmseg/mmcv_custom/simple_multilevel_neck.py)."""
    from mmfreq.models.necks import FDAMNeck

    state, _ = release_tensors('fdam_deit3_base_upernet_ade20k', folder=MODEL_FIXTURES,
                               keep=lambda key: key.startswith('neck.'))

    class RenamedNeck(FDAMNeck):  # the formats belong to the class, not to its name
        pass

    model = torch.nn.Module()
    model.neck = neck = RenamedNeck(768, freq_scale=False).eval()
    converted, layout, _ = convert_model_state(model, state)
    assert layout.endswith('parts read as neck: official SimpleMultiLevelNeck (Linwei-Chen/FDAM, '
                           'FDAM_mmseg)')
    model.load_state_dict(converted)
    state = {k[len('neck.'):]: v for k, v in state.items()}
    torch.manual_seed(0)
    inputs = [torch.randn(1, 768, 4, 6) for _ in range(4)]
    with torch.no_grad():
        outs = neck(inputs)
        up = F.conv_transpose2d(inputs[0], state['fpn1.0.weight'], state['fpn1.0.bias'], 2)
        up = F.batch_norm(up, state['fpn1.1.running_mean'], state['fpn1.1.running_var'],
                          state['fpn1.1.weight'], state['fpn1.1.bias'], eps=1e-5)
        up = F.conv_transpose2d(F.gelu(up), state['fpn1.3.weight'], state['fpn1.3.bias'], 2)
        expected = [up, F.conv_transpose2d(inputs[1], state['fpn2.0.weight'],
                                           state['fpn2.0.bias'], 2),
                    inputs[2], F.max_pool2d(inputs[3], 2)]
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_official_fdam_file_fits_the_released_config_exactly():
    """Every key and shape of the released FDAM UperNet (backbone, neck, both
    heads) lands on the model of configs/upernet_fdam_vit_b_ade20k_released.py."""
    import json

    fixture = json.loads((MODEL_FIXTURES / 'fdam_deit3_base_upernet_ade20k.json').read_text())
    state = {k: torch.empty(shape, dtype=getattr(torch, dtype), device='meta')
             for k, (shape, dtype) in fixture['tensors'].items()}
    model = build_model_from_config(
        read_config(CONFIGS / 'upernet_fdam_vit_b_ade20k_released.py'))
    converted, layout, dropped = convert_model_state(model, state)
    assert diff_keys(model.state_dict(), converted).problems() == [] and dropped == []
    assert layout.startswith('official FDAM release (mmseg 0.25')
    assert 'backbone: official FDAM release' in layout
    assert 'neck: official SimpleMultiLevelNeck' in layout


@pytest.mark.parametrize('config, name, cfg_options, expected', [
    # the neighbouring size: the key, its shape in the file, then in the model
    ('fpn_van_b0_ade20k_released.py', 'van_b1_fpn_ade20k', None,
     r'backbone\.stages\.0\.patch_embed\.proj\.weight \(64, 3, 7, 7\).*\(32, 3, 7, 7\)'),
    # another head: an UperNet file into a Semantic-FPN config (full size); the
    # model's key the file lacks, then the file's key the model lacks
    pytest.param('fpn_van_b2_ade20k_released.py', 'van_b2_upernet_ade20k', None,
                 r'missing.*neck\.lateral_convs\.0\.conv\.weight.*unexpected.*'
                 r'decode_head\.psp_modules', marks=pytest.mark.slow),
    # a wrong class count: the classifier's weight and bias
    ('fpn_van_b0_ade20k_released.py', 'van_b0_fpn_ade20k', {'model.decode_head.num_classes': 19},
     r'\b2 shape mismatches.*decode_head\.conv_seg\.weight \(150, 128, 1, 1\).*'
     r'\(19, 128, 1, 1\)'),
])
def test_a_file_of_another_model_is_refused_naming_it(files, config, name, cfg_options,
                                                      expected):
    with pytest.raises(ValueError) as err:
        init_model(read_config(CONFIGS / config), str(files[name]), cfg_options=cfg_options)
    message = str(err.value)
    assert str(files[name]) in message and 'EncoderDecoder' in message, message
    assert 'official VAN-Segmentation release' in message  # the layout it was read as
    assert re.search(expected, message), message


def test_non_strict_init_model_loads_what_fits(files):
    model = init_model(str(CONFIGS / 'fpn_van_b0_ade20k_released.py'),
                       str(files['van_b0_fpn_ade20k']), strict=False,
                       cfg_options={'model.decode_head.num_classes': 19})
    state = torch.load(files['van_b0_fpn_ade20k'], weights_only=True)['state_dict']
    assert torch.equal(model.neck.fpn_convs[3].conv.weight, state['neck.fpn_convs.3.conv.weight'])
    assert model.decode_head.conv_seg.weight.shape == (19, 128, 1, 1)


def synthetic_test_options(root: Path):
    """--cfg-options pointing a released config's test set at the built-in scenes,
    kept at their own 256x128 (the release's 2048x512 resize would make each a
    1024x512 image: three sliding windows of the full-size model)."""
    options = [opt for opt in small_run_options(root, 1, 1) if opt.startswith('test_dataloader')]
    return ['--cfg-options', *options, 'test_dataloader.dataset.pipeline.1.scale=(512,128)',
            'test_dataloader.dataset.type=mmfreq.SyntheticADE20KDataset',
            'test_dataloader.dataset.data_prefix.img_path=images/validation',
            'test_dataloader.dataset.data_prefix.seg_map_path=annotations/validation']


def miou(output: str) -> str:
    found = re.findall(r'mIoU: (\d+\.\d+)', output)
    assert found, output[-3000:]
    return found[-1]


@pytest.mark.slow  # subprocess tests on the built-in data, full-size models
@pytest.mark.parametrize('config, name', [
    ('fpn_van_b0_ade20k_released.py', 'van_b0_fpn_ade20k'),
    ('upernet_van_b2_ade20k_released.py', 'van_b2_upernet_ade20k'),
    ('upernet_fdam_vit_b_ade20k_released.py', 'fdam_deit3_base_upernet_ade20k'),
])
def test_test_tool_evaluates_the_official_file_as_the_converted_one(synthetic_root, tmp_path,
                                                                     config, name):
    import pickle

    official = official_file(name, tmp_path / f'{name}.pth')
    checkpoint = torch.load(official, weights_only=True)
    # as a trained model would, it scores the six built-in classes highest
    checkpoint['state_dict']['decode_head.conv_seg.bias'][:6] += 10
    torch.save(checkpoint, official)
    options = [*synthetic_test_options(synthetic_root), '--skip-preflight',
               '--work-dir', tmp_path / 'work']
    result = run_tool(['tools/test.py', CONFIGS / config, official, *options,
                       '--out', tmp_path / 'official.pkl'])
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert line_with(output, str(official), 'official ' + ('FDAM' if 'fdam' in name
                                                         else 'VAN-Segmentation') + ' release')
    assert 'unexpected key in source state_dict' not in output
    assert float(miou(output)) > 0

    converted = tmp_path / 'mmfreq.pth'
    result = run_tool(['tools/model_converters/model2mmfreq.py', official, converted,
                       '--config', CONFIGS / config])
    assert result.returncode == 0, result.stderr[-3000:]
    again = run_tool(['tools/test.py', CONFIGS / config, converted, *options,
                      '--out', tmp_path / 'converted.pkl'])
    assert again.returncode == 0, again.stderr[-3000:]
    assert miou(again.stdout + again.stderr) == miou(output)
    scores = [[sample['seg_logits']['data'] for sample in pickle.loads(path.read_bytes())]
              for path in (tmp_path / 'official.pkl', tmp_path / 'converted.pkl')]
    for official_scores, converted_scores in zip(*scores):
        assert torch.equal(official_scores, converted_scores)


@pytest.mark.slow
def test_test_tool_refuses_another_size_in_one_line(synthetic_root, tmp_path):
    official = official_file('van_b1_fpn_ade20k', tmp_path / 'van_b1_fpn.pth')
    result = run_tool(['tools/test.py', CONFIGS / 'fpn_van_b0_ade20k_released.py', official,
                       *synthetic_test_options(synthetic_root), '--skip-preflight',
                       '--work-dir', tmp_path / 'work'])
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert 'unexpected key in source state_dict' not in output
    assert 'size mismatch' not in output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:') and line_with(last, str(official), 'EncoderDecoder',
                                                   'official VAN-Segmentation release'), last
    assert re.search(r'backbone\.stages\.0\.patch_embed\.proj\.weight \(64, 3, 7, 7\).*'
                     r'\(32, 3, 7, 7\)', last), last
    assert not re.search(r'mIoU: \d', output)


@pytest.mark.slow
def test_train_tool_fine_tunes_from_the_official_file(synthetic_root, tmp_path):
    """load_from is read by mmfreq's strict loader after the model's own
    initialisation; a file of another size stops training before it starts."""
    official = official_file('van_b0_fpn_ade20k', tmp_path / 'van_b0_fpn.pth')
    synthetic = ROOT / 'configs' / 'fpn_van_t_synthetic.py'
    options = ['--work-dir', tmp_path / 'work', '--skip-preflight', '--cfg-options',
               *small_run_options(synthetic_root, 2, 2),
               'model.neck.out_channels=256', 'model.decode_head.in_channels=[256,256,256,256]',
               'model.decode_head.channels=128', 'model.decode_head.num_classes=150',
               'train_cfg.val_interval=100']
    result = run_tool(['tools/train.py', synthetic, *options, f'load_from={official}'])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert line_with(output, str(official), 'official VAN-Segmentation release'), output[-3000:]

    other = official_file('van_b1_fpn_ade20k', tmp_path / 'van_b1_fpn.pth')
    result = run_tool(['tools/train.py', synthetic, *options, f'load_from={other}'])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:') and line_with(last, str(other), 'EncoderDecoder'), last
    assert 'Iter(train)' not in result.stdout + result.stderr
