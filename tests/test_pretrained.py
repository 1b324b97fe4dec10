"""Released weights through ``init_cfg``: every format, from a file and a URL, strictly.

The "released" checkpoints are random tensors with the key names and shapes
of the real releases, read from fixtures (``tests/data/official_keys``) that
were dumped from the official code; they are never derived from mmfreq's
own names, so a wrong name mapping cannot pass.
"""
import functools
import http.server
import threading
from typing import Dict, Optional, Tuple

import pytest
import torch
import torch.nn as nn

from mmfreq.models import AAResNet, FDAMDeiT3, FocalTransformer
from mmfreq.models.backbones import VAN
from mmfreq.testing.fixtures import release_tensors, save_release
from mmfreq.testing.messages import line_with
from mmfreq.testing.tools import ROOT, run_tool, small_run_options

StateDict = Dict[str, torch.Tensor]


def fingerprint(t: torch.Tensor) -> Tuple:
    """Identifies a random tensor by value (two random tensors never share one)."""
    return tuple(t.shape), round(t.double().sum().item(), 5), round(t.flatten()[-1].item(), 6)


def loaded(model_cls, source: str, prefix: Optional[str] = None, **kwargs) -> nn.Module:
    init_cfg = dict(type='Pretrained', checkpoint=source)
    if prefix is not None:
        init_cfg['prefix'] = prefix
    torch.manual_seed(0)  # parameters a format lacks start equal in every model built here
    model = model_cls(**kwargs, init_cfg=init_cfg)
    model.init_weights()
    return model.eval()


def outputs(model: nn.Module, size=(40, 56)) -> Tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    with torch.no_grad():
        return model(torch.randn(1, 3, *size))


def assert_same_outputs(a, b: nn.Module) -> None:
    """``a``: a module or its :func:`outputs`."""
    for x, y in zip(a if isinstance(a, tuple) else outputs(a), outputs(b), strict=True):
        assert torch.equal(x, y)


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """A file server on 127.0.0.1: ``(folder, base URL)``."""
    root = tmp_path_factory.mktemp('served')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()


@pytest.fixture(autouse=True)
def torch_home(tmp_path, monkeypatch):
    """Downloads go to a fresh cache for each test."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    return tmp_path / 'torch_home'


def check_format(model_cls, release: StateDict, container: str, name: str, server, tmp_path,
                 sentinels: Dict[str, str], dropped=lambda key: False, prefix=None,
                 **kwargs) -> nn.Module:
    """The release loads from a file and from a URL, every tensor of it exactly once.

    ``sentinels`` maps release keys to the module keys they must land in (one
    per renaming rule, written from the two codes' module names).
    """
    folder, url = server
    path = save_release(release, container, folder / name)
    from_file = loaded(model_cls, str(path), prefix, **kwargs)
    expected = outputs(from_file)
    assert_same_outputs(expected, loaded(model_cls, f'{url}/{name}', prefix, **kwargs))

    own = from_file.state_dict()
    for release_key, own_key in sentinels.items():
        assert torch.equal(own[own_key], release[release_key]), (release_key, own_key)
    released = {fingerprint(v) for k, v in release.items()
                if v.is_floating_point() and not dropped(k)}
    found = {fingerprint(v) for v in own.values() if v.is_floating_point()}
    assert released <= found, 'release tensors that were not loaded'

    mmfreq_file = tmp_path / f'mmfreq_{name}'
    torch.save({'state_dict': own}, mmfreq_file)
    assert_same_outputs(expected, loaded(model_cls, str(mmfreq_file), **kwargs))
    return from_file


# ---------------------------------------------------------------- VAN

VAN_OFFICIAL_SENTINELS = {
    'patch_embed1.proj.weight': 'stages.0.patch_embed.proj.weight',
    'patch_embed2.norm.running_var': 'stages.1.patch_embed.norm.running_var',
    'block1.0.norm1.weight': 'stages.0.blocks.0.norm1.weight',
    'block1.0.norm2.weight': 'stages.0.blocks.0.norm2.weight',
    'block2.1.attn.proj_1.weight': 'stages.1.blocks.1.attn.proj_1.weight',
    'block2.1.attn.proj_2.weight': 'stages.1.blocks.1.attn.proj_2.weight',
    'block3.2.attn.spatial_gating_unit.conv0.weight': 'stages.2.blocks.2.attn.lka.conv0.weight',
    'block3.2.attn.spatial_gating_unit.conv_spatial.bias':
        'stages.2.blocks.2.attn.lka.conv_spatial.bias',
    'block3.2.attn.spatial_gating_unit.conv1.weight': 'stages.2.blocks.2.attn.lka.conv1.weight',
    'block4.1.mlp.fc1.weight': 'stages.3.blocks.1.mlp.fc1.weight',
    'block4.1.mlp.dwconv.dwconv.weight': 'stages.3.blocks.1.mlp.dwconv.weight',
    'block4.1.mlp.fc2.bias': 'stages.3.blocks.1.mlp.fc2.bias',
    'block1.2.layer_scale_1': 'stages.0.blocks.2.layer_scale_1',
    'block1.2.layer_scale_2': 'stages.0.blocks.2.layer_scale_2',
    'norm4.weight': 'stages.3.norm.weight',
}


def test_van_official_release_loads_from_file_and_url(server, tmp_path):
    release, container = release_tensors('van_b0_official')
    check_format(VAN, release, container, 'van_tiny_754.pth.tar', server, tmp_path,
                 VAN_OFFICIAL_SENTINELS, dropped=lambda k: k.startswith('head.'), arch='b0')


@pytest.mark.slow  # a full-size VAN-B2 twice, and mmpretrain's
@pytest.mark.parametrize('prefix', [None, 'backbone.'])
def test_van_mmpretrain_release_loads_and_matches_mmpretrain(server, tmp_path, prefix):
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    release, container = release_tensors('van_tiny_mmpretrain', seed=1)
    sentinels = {'backbone.patch_embed1.projection.weight': 'stages.0.patch_embed.proj.weight',
                 'backbone.blocks2.0.attn.spatial_gating_unit.DW_conv.weight':
                     'stages.1.blocks.0.attn.lka.conv0.weight',
                 'backbone.blocks2.0.attn.spatial_gating_unit.DW_D_conv.weight':
                     'stages.1.blocks.0.attn.lka.conv_spatial.weight',
                 'backbone.norm3.bias': 'stages.2.norm.bias'}
    ours = check_format(VAN, release, container, 'van-tiny_8xb128_in1k.pth',
                        server, tmp_path, sentinels, dropped=lambda k: k.startswith('head.'),
                        prefix=prefix, arch='tiny')
    # mmpretrain's own VAN, an independent implementation, on the same file
    reference = MMPretrainVAN(arch='tiny', out_indices=(0, 1, 2, 3))
    reference.load_state_dict({k[len('backbone.'):]: v for k, v in release.items()
                               if k.startswith('backbone.')})
    for m in reference.modules():  # mmpretrain's stage norms use eps 1e-5, the official 1e-6
        if isinstance(m, nn.LayerNorm):
            m.eps = 1e-6
    reference.eval()
    for a, b in zip(outputs(ours), outputs(reference), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # a full segmentor built and saved
def test_whole_segmentor_checkpoint_loads_its_backbone(tmp_path):
    source = loaded(VAN, save_release(*release_tensors('van_b0_official', seed=2),
                                      tmp_path / 'van.pth').as_posix(), arch='b0')
    whole = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    whole['decode_head.conv_seg.weight'] = torch.zeros(150, 512, 1, 1)
    path = tmp_path / 'upernet_van_b0_iter_160000.pth'
    torch.save({'meta': {'iter': 160000}, 'state_dict': whole}, path)
    assert_same_outputs(source, loaded(VAN, str(path), arch='b0'))


def test_van_checkpoint_of_the_neighbouring_size_is_refused(tmp_path):
    path = save_release(*release_tensors('van_b1_official'), tmp_path / 'van_small_811.pth.tar')
    with pytest.raises(ValueError) as info:
        loaded(VAN, str(path), arch='b2')
    message = str(info.value)
    assert str(path) in message
    assert 'official VAN release' in message
    assert line_with(message, 'missing', 'stages.0.blocks.2.'), message


def test_wrong_prefix_is_refused_naming_file_and_prefix(tmp_path):
    path = save_release(*release_tensors('van_tiny_mmpretrain'), tmp_path / 'van-tiny.pth')
    with pytest.raises(ValueError, match=rf"{path}.*prefix='model\.'"):
        loaded(VAN, str(path), prefix='model.', arch='b0')
    # a prefix that keeps only part of the backbone: not silently partial
    # the file, the model, and the keys as the prefix left them
    with pytest.raises(ValueError,
                       match=rf"{path}.*\bVAN\b.*prefix='backbone\.blocks1\.'.*0\.attn\.proj_1\."):
        loaded(VAN, str(path), prefix='backbone.blocks1.', arch='b0')


def test_keys_of_no_known_format_are_refused(tmp_path):
    release, container = release_tensors('resnet50_torchvision')
    path = save_release(release, container, tmp_path / 'resnet50.pth')
    with pytest.raises(ValueError, match=rf'{path}.*\bVAN\b.*known'):
        loaded(VAN, str(path), arch='b0')


def test_every_misfit_raises_one_error_type_carrying_file_layout_and_keys(tmp_path):
    from mmfreq.utils import CheckpointError

    release, container = release_tensors('van_b0_official')
    path = save_release(release, container, tmp_path / 'van_b0.pth')
    with pytest.raises(CheckpointError) as another_size:
        loaded(VAN, str(path), arch='b1')
    error = another_size.value
    assert isinstance(error, ValueError)
    assert error.source == str(path) and error.layout.startswith('official VAN release')
    assert 'stages.0.patch_embed.proj.weight' in error.keys  # 32 channels in b0, 64 in b1

    release, container = release_tensors('resnet50_torchvision')
    path = save_release(release, container, tmp_path / 'resnet50.pth')
    with pytest.raises(CheckpointError) as unknown:
        loaded(VAN, str(path), arch='b0')
    assert (unknown.value.source, unknown.value.layout) == (str(path), None)
    assert unknown.value.keys == sorted(release)[:6]


def test_a_foreign_key_is_named(tmp_path):
    release, container = release_tensors('van_b0_official')
    release['block1.0.attn.extra.weight'] = torch.zeros(3)
    path = save_release(release, container, tmp_path / 'van_b0_extra.pth')
    with pytest.raises(ValueError, match=r'unexpected.*stages\.0\.blocks\.0\.attn\.extra'):
        loaded(VAN, str(path), arch='b0')


@pytest.mark.parametrize('via_url', [False, True])
def test_truncated_file_is_named(server, tmp_path, via_url):
    folder, url = server
    path = save_release(*release_tensors('van_b0_official'), folder / 'van_b0_truncated.pth')
    path.write_bytes(path.read_bytes()[:100_000])
    source = f'{url}/{path.name}' if via_url else str(path)
    with pytest.raises(ValueError, match=f'{source}.* not a readable checkpoint'):
        loaded(VAN, source, arch='b0')


def test_download_that_fails_its_hash_is_refused_naming_the_url(server):
    folder, url = server
    save_release(*release_tensors('van_b0_official'), folder / 'van_b0-0123abcd.pth')
    with pytest.raises(ValueError, match=f'{url}/van_b0-0123abcd.pth.*damaged'):
        loaded(VAN, f'{url}/van_b0-0123abcd.pth', arch='b0')


def test_failed_download_names_the_url(server):
    _, url = server
    with pytest.raises(ConnectionError, match=f'{url}/nowhere.pth'):
        loaded(VAN, f'{url}/nowhere.pth', arch='b0')


def test_pretrained_inside_a_list_of_initialisers_is_refused():
    model = VAN(arch='b0', init_cfg=[dict(type='Pretrained', checkpoint='x.pth')])
    with pytest.raises(ValueError, match='alone, not inside a list'):
        model.init_weights()


# ---------------------------------------------------------------- Focal

FOCAL_OFFICIAL_SENTINELS = {
    'patch_embed.proj.weight': 'patch_embed.proj.weight',
    'layers.0.blocks.1.attn.qkv.weight': 'layers.0.blocks.1.attn.qkv.weight',
    'layers.1.blocks.0.pool_layers.0.weight': 'layers.1.blocks.0.attn.pool_layers.0.weight',
    'layers.2.blocks.3.mlp.fc1.weight': 'layers.2.blocks.3.ffn.layers.0.0.weight',
    'layers.2.blocks.3.mlp.fc2.weight': 'layers.2.blocks.3.ffn.layers.1.weight',
    'layers.2.downsample.proj.weight': 'layers.2.downsample.proj.weight',
    'layers.0.blocks.0.norm2.bias': 'layers.0.blocks.0.norm2.bias',
    'norm.weight': 'norm3.weight',
}


@pytest.mark.slow  # the full-size Focal release, from a file and from a URL
def test_focal_official_release_loads_from_file_and_url(server, tmp_path):
    release, container = release_tensors('focal_tiny_official')
    model = check_format(FocalTransformer, release, container, 'focal-tiny-is224-ws7.pth',
                         server, tmp_path, FOCAL_OFFICIAL_SENTINELS,
                         dropped=lambda k: k.startswith('head.'), arch='tiny')
    fresh_norm = model.norm0.weight  # the official model has only the last norm
    assert torch.equal(fresh_norm, torch.ones_like(fresh_norm))


# ---------------------------------------------------------------- FDAM-DeiT3

def first_layers(key: str, n: int = 2) -> bool:
    """Keys outside blocks 2.. : a 2-layer ViT-B with the release's names and shapes."""
    parts = key.split('.')
    return not ('blocks' in parts and int(parts[parts.index('blocks') + 1]) >= n)


VIT_B_2 = dict(arch=dict(embed_dims=768, num_layers=2, num_heads=12, feedforward_channels=3072),
               out_indices=(0, 1))
DEIT_CLASSIFIER = ('cls_token', 'norm.', 'head.')


@pytest.mark.slow  # two DeiT-III-B releases, from a file and from a URL
@pytest.mark.parametrize('fixture,sentinels', [
    ('deit3_base_official', {'blocks.1.gamma_1': 'layers.1.gamma_1',
                             'blocks.1.gamma_2': 'layers.1.gamma_2',
                             'blocks.0.mlp.fc1.weight': 'layers.0.ffn.layers.0.0.weight',
                             'blocks.0.mlp.fc2.weight': 'layers.0.ffn.layers.1.weight',
                             'blocks.0.attn.qkv.bias': 'layers.0.attn.qkv.bias',
                             'pos_embed': 'pos_embed'}),
    ('deit3_base_timm', {'blocks.1.ls1.gamma': 'layers.1.gamma_1',
                         'blocks.1.ls2.gamma': 'layers.1.gamma_2',
                         'blocks.0.norm1.weight': 'layers.0.norm1.weight'}),
])
def test_deit3_releases_load_into_fdam_vit(server, tmp_path, fixture, sentinels):
    release, container = release_tensors(fixture, keep=first_layers)
    model = check_format(FDAMDeiT3, release, container, f'{fixture}.pth', server, tmp_path,
                         sentinels, dropped=lambda k: k.startswith(DEIT_CLASSIFIER), **VIT_B_2)
    assert torch.equal(model.layers[0].attn.att_inv.lowpass_gamma,
                       torch.full((768, ), 1e-5))  # FDAM parameters start fresh


def test_official_fdam_segmentor_loads_its_backbone(server, tmp_path):
    release, container = release_tensors('fdam_deit3_base_official', keep=first_layers)
    release['decode_head.conv_seg.weight'] = torch.zeros(150, 512, 1, 1)
    sentinels = {'backbone.blocks.0.attn.dy_freq.weight':
                 'layers.0.attn.att_inv.highpass_gate.weight',
                 'backbone.blocks.0.attn.dy_freq_2.weight':
                 'layers.0.attn.att_inv.lowpass_gate.weight',
                 'backbone.blocks.0.attn.lf_gamma': 'layers.0.attn.att_inv.lowpass_gamma',
                 'backbone.blocks.0.attn.hf_gamma': 'layers.0.attn.att_inv.highpass_gamma',
                 'backbone.blocks.1.freq_scale_1.complex_weights': 'layers.1.attn_freq_scale.basis',
                 'backbone.blocks.1.freq_scale_2.reweight.fc1.weight':
                 'layers.1.ffn_freq_scale.router.0.weight',
                 'backbone.blocks.1.freq_scale_2.reweight.fc2.weight':
                 'layers.1.ffn_freq_scale.router.2.weight',
                 'backbone.pos_embed': 'pos_embed'}
    check_format(FDAMDeiT3, release, container, 'fdam_deit3_b_ade20k.pth', server, tmp_path,
                 sentinels, dropped=lambda k: not k.startswith('backbone.'), img_size=512,
                 **VIT_B_2)


# ---------------------------------------------------------------- AA-ResNet

@pytest.mark.slow  # a full ResNet-50 and torchvision's
def test_torchvision_resnet50_loads_and_matches_torchvision(server, tmp_path):
    import torchvision

    release, container = release_tensors('resnet50_torchvision')
    sentinels = {'layer1.0.conv2.weight': 'layer1.0.conv2.weight',
                 'layer4.2.bn3.running_var': 'layer4.2.bn3.running_var',
                 'layer2.0.downsample.0.weight': 'layer2.0.downsample.0.weight'}
    plain = check_format(AAResNet, release, container, 'resnet50.pth', server,
                         tmp_path, sentinels, dropped=lambda k: k.startswith('fc.'), depth=50,
                         stage_with_aa=(False, ) * 4)
    reference = torchvision.models.resnet50().eval()
    reference.load_state_dict(release)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        y = reference.maxpool(reference.relu(reference.bn1(reference.conv1(x))))
        for stage, ours in enumerate(plain(x)):
            y = getattr(reference, f'layer{stage + 1}')(y)
            torch.testing.assert_close(ours, y, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_torchvision_resnet50_into_aa_resnet_keeps_the_first_filters(tmp_path):
    release, container = release_tensors('resnet50_torchvision', seed=3)
    path = save_release(release, container, tmp_path / 'resnet50-0676ba61.pth')
    model = loaded(AAResNet, str(path), depth=50)
    conv = model.layer3[1].conv2
    assert torch.equal(conv.conv.weight,
                       release['layer3.1.conv2.weight'][:conv.conv.out_channels])
    mmfreq_file = tmp_path / 'aa_r50_mmfreq.pth'
    torch.save({'state_dict': model.state_dict()}, mmfreq_file)
    assert_same_outputs(model, loaded(AAResNet, str(mmfreq_file), depth=50))


# ---------------------------------------------------------------- full sizes (slow)

@pytest.mark.slow
@pytest.mark.parametrize('model_cls,fixture,kwargs,neighbour', [
    (VAN, 'van_b1_official', dict(arch='b1'), dict(arch='b0')),
    (VAN, 'van_b2_official', dict(arch='b2'), dict(arch='b3')),
    (VAN, 'van_b3_official', dict(arch='b3'), dict(arch='b2')),
    (VAN, 'van_base_mmpretrain', dict(arch='base'), dict(arch='small')),
    (FocalTransformer, 'focal_small_official', dict(arch='small'), dict(arch='tiny')),
    (FocalTransformer, 'focal_base_official', dict(arch='base'), dict(arch='small')),
    (FDAMDeiT3, 'deit3_base_official', dict(arch='base', att_inv=False, freq_scale=False),
     dict(arch='small')),
    (FDAMDeiT3, 'fdam_deit3_base_official', dict(arch='base', img_size=512), dict(arch='large')),
])
def test_full_size_release_loads_and_the_neighbour_is_refused(tmp_path, model_cls, fixture,
                                                              kwargs, neighbour):
    path = save_release(*release_tensors(fixture), tmp_path / f'{fixture}.pth')
    model = loaded(model_cls, str(path), **kwargs)
    mmfreq_file = tmp_path / 'mmfreq.pth'
    torch.save({'state_dict': model.state_dict()}, mmfreq_file)
    assert_same_outputs(model, loaded(model_cls, str(mmfreq_file), **kwargs))
    with pytest.raises(ValueError, match=f'{path}.*does not fit'):
        loaded(model_cls, str(path), **neighbour)


@pytest.mark.slow
def test_converter_tool_writes_the_file_init_cfg_would_load(tmp_path):
    path = save_release(*release_tensors('focal_tiny_official'), tmp_path / 'focal-tiny.pth')
    out = tmp_path / 'focal_tiny_mmfreq.pth'
    result = run_tool(['tools/model_converters/focal2mmfreq.py', path, out, '--arch', 'tiny'])
    assert result.returncode == 0, result.stderr[-2000:]
    assert line_with(result.stdout, 'new', 'norm0.weight', 'norm0.bias'), result.stdout[-2000:]
    assert_same_outputs(loaded(FocalTransformer, str(path)), loaded(FocalTransformer, str(out)))
    result = run_tool(['tools/model_converters/focal2mmfreq.py', path, tmp_path / 'x.pth',
                       '--arch', 'small'])
    assert result.returncode != 0
    assert line_with(result.stderr, str(path), 'official Focal Transformer release')


@pytest.mark.slow
def test_training_with_data_fails_on_the_download_naming_the_url(synthetic_root, tmp_path):
    """Data present, no weights reachable: the run stops at init_weights, naming the URL."""
    url = 'http://127.0.0.1:9/van-tiny_8xb128_in1k_20220501-385941af.pth'  # port 9: nothing
    result = run_tool(['tools/train.py', ROOT / 'configs' / 'upernet_van_t.py',
                       '--work-dir', tmp_path, '--cfg-options',
                       *small_run_options(synthetic_root, 2, 2),
                       f'model.backbone.init_cfg.checkpoint={url}'],
                      env={'TORCH_HOME': str(tmp_path / 'torch_home')})
    assert result.returncode != 0
    assert line_with(result.stdout + result.stderr, 'download', url)


@pytest.mark.parametrize('build', [
    lambda init_cfg: VAN('b0', init_cfg=init_cfg),
    lambda init_cfg: FocalTransformer(dict(embed_dims=32, depths=(1, 1, 1, 1),
                                           num_heads=(1, 2, 4, 8)), init_cfg=init_cfg),
    lambda init_cfg: FDAMDeiT3(dict(embed_dims=64, num_layers=2, num_heads=2,
                                  feedforward_channels=128), img_size=32, init_cfg=init_cfg),
], ids=['VAN', 'FocalTransformer', 'FDAMDeiT3'])
def test_another_initialiser_in_init_cfg_replaces_the_default_one(build):
    """init_cfg=Constant is applied by mmengine; without init_cfg the backbone's own
    (random) initialisation runs, which never gives every conv / linear weight 0.25."""
    layers = (nn.Conv2d, nn.Linear)
    constant = build(dict(type='Constant', layer=['Conv2d', 'Linear'], val=0.25, bias=0.))
    constant.init_weights()
    weights = [m.weight for m in constant.modules() if isinstance(m, layers)]
    assert weights and all(torch.all(w == 0.25) for w in weights)
    default = build(None)
    default.init_weights()
    assert not all(torch.all(m.weight == 0.25) for m in default.modules()
                   if isinstance(m, layers))
