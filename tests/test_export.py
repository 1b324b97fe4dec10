"""tools/deployment/pytorch2onnx.py: every backbone family exports and its
ONNX file agrees with PyTorch in onnxruntime (the tool's own check, < 1e-4)."""
import re

import pytest
import torch.nn as nn

from mmfreq.deployment.onnx import ExportError, export_onnx
from mmfreq.models.layers import FocalAttention, FreqScale
from mmfreq.testing.messages import line_with
from mmfreq.testing.tools import ROOT, load_script, run_tool

pytest.importorskip('onnxruntime')

TOOL = 'tools/deployment/pytorch2onnx.py'
VAN = ROOT / 'configs' / 'fpn_van_t_synthetic.py'
FDAM = ROOT / 'configs' / 'fpn_fdam_vit_synthetic.py'
AA = ROOT / 'configs' / 'fpn_aa_r50_synthetic.py'
DET = ROOT / 'configs' / 'mask_rcnn_van_t_synthetic.py'
CLS = ROOT / 'configs' / 'van_b_in1k.py'


def small_focal_config(tmp_path) -> str:
    """UperNet + a two-blocks-per-stage Focal Transformer of width 32."""
    path = tmp_path / 'upernet_focal_small.py'
    path.write_text(
        f"_base_ = '{ROOT / 'configs' / 'upernet_focal_t.py'}'\n"
        "model = dict(backbone=dict(arch=dict(_delete_=True, embed_dims=32, depths=(1, 1, 2, 1), "
        "num_heads=(1, 2, 4, 8)), init_cfg=None))\n")
    return str(path)


def export_and_check(tmp_path, config, *options) -> str:
    """Run the tool; return its output after asserting every check passed."""
    out = tmp_path / 'model.onnx'
    result = run_tool([TOOL, config, '--out', out, *options])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    diffs = [float(d) for d in re.findall(r'max abs diff (\S+) ', result.stdout)]
    assert len(diffs) >= 2 and max(diffs) <= 1e-4, result.stdout  # random + photo
    assert out.stat().st_size > 10_000
    return result.stdout


@pytest.mark.slow  # an ONNX export and an onnxruntime session of a segmentor
def test_van_segmentor_logits_at_full_resolution(tmp_path):
    """In-process: the graph's output is the segmentor's logits at input size."""
    import numpy as np
    import onnxruntime

    out = str(tmp_path / 'van.onnx')
    pytorch2onnx_main([str(VAN), '--shape', '64', '96', '--out', out])
    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    (logits,) = session.run(None, {'image': np.zeros((1, 3, 64, 96), np.float32)})
    assert logits.shape == (1, 6, 64, 96)
    assert [o.name for o in session.get_outputs()] == ['seg_logits']


@pytest.mark.slow  # an ONNX export and an onnxruntime session of a segmentor
def test_the_graph_folds_in_the_data_preprocessor(tmp_path):
    """BGR 0-255 in: the same logits as the segmentor given the preprocessed RGB input."""
    import numpy as np
    import onnxruntime
    import torch
    import torch.nn.functional as F

    from mmfreq.deployment import build_exportable, export_onnx

    module, host = build_exportable(str(VAN), None, backbone_only=False)
    out = str(tmp_path / 'van.onnx')
    export_onnx(module, (64, 64), out, dynamic=False, opset=17)
    bgr = np.random.default_rng(1).uniform(0, 255, (1, 3, 64, 64)).astype(np.float32)
    model = module.model
    rgb = torch.from_numpy(bgr[:, ::-1].copy())
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)  # mmseg's ADE20K values
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = F.interpolate(model.decode_head(model.extract_feat((rgb - mean) / std)),
                                 size=(64, 64), mode='bilinear', align_corners=False)
    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    (got,) = session.run(None, {'image': bgr})
    assert host == 'mmseg'
    assert np.abs(got - expected.numpy()).max() < 1e-4


@pytest.mark.parametrize('hw', [(9, 11), (8, 8), (5, 13)])
def test_aa_conv_exports_with_its_padded_head_size(tmp_path, hw):
    """The zero-padding to a multiple of 8 channels must round up in the graph too
    (ONNX integer division truncates: a traced ``-(-n // 8)`` cropped instead)."""
    import onnxruntime
    import torch

    from mmfreq.models.layers import AAConv2d

    torch.manual_seed(0)
    layer = AAConv2d(64, 64, key_ratio=0.25, value_ratio=0.25).eval()
    x = torch.randn(1, 64, *hw)
    path = tmp_path / 'aa_conv.onnx'
    torch.onnx.export(layer, (x, ), str(path), opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(str(path))
    (got, ) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = layer(x).numpy()
    assert abs(got - expected).max() < 1e-4


def pytorch2onnx_main(argv) -> None:
    """The tool's ``main``, run in this process."""
    load_script(TOOL).main(argv)


@pytest.mark.parametrize('hw', [(6, 6), (7, 9), (1, 5)])
def test_freq_scale_exports_itself_as_dft_products(tmp_path, hw):
    """FreqScale's own export form (no torch.fft in ONNX) computes what its FFTs do."""
    import onnxruntime
    import torch

    from mmfreq.models.layers import FreqScale, add_freq_scale

    class Residual(torch.nn.Module):  # the channels-last residual form the blocks use
        def __init__(self) -> None:
            super().__init__()
            self.freq_scale = FreqScale(16, groups=4, basis_size=6)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return add_freq_scale(x, self.freq_scale)

    torch.manual_seed(0)
    layer = Residual().eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    x = torch.randn(2, *hw, 16)
    path = tmp_path / 'freq_scale.onnx'
    torch.onnx.export(layer, (x, ), str(path), opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(str(path))
    (got, ) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = layer(x).numpy()
    assert abs(got - expected).max() < 1e-4 * abs(expected).max()


@pytest.mark.slow
@pytest.mark.parametrize('shape', [(64, 64), (96, 128)])
@pytest.mark.parametrize('family', ['van', 'fdam_vit', 'aa_resnet', 'focal'])
def test_every_backbone_family_exports_at_two_sizes(tmp_path, family, shape):
    config = {'van': VAN, 'fdam_vit': FDAM, 'aa_resnet': AA}.get(family)
    options = ['--shape', *map(str, shape)]
    if family == 'focal':
        config = small_focal_config(tmp_path)
        options.append('--backbone-only')
    output = export_and_check(tmp_path, config, *options)
    assert 'photo input 1x3x' in output


@pytest.mark.slow
def test_van_backbone_exports_with_dynamic_shapes(tmp_path):
    output = export_and_check(tmp_path, VAN, '--shape', '64', '64', '--dynamic',
                              '--backbone-only')
    assert 'random 96x128 input 1x3x96x128' in output
    assert 'random batch of 2 input 2x3x64x64' in output


@pytest.mark.slow
def test_semantic_fpn_refuses_dynamic_export_naming_mmseg_resize(tmp_path):
    """mmseg's FPN head upsamples to sizes it reads as Python ints."""
    result = run_tool([TOOL, VAN, '--shape', '64', '64', '--dynamic', '--out',
                       tmp_path / 'van.onnx'])
    assert result.returncode == 1
    assert line_with(result.stderr, 'random 96x128 input'), result.stderr[-3000:]
    assert re.search(r'/mmseg/models/utils/wrappers\.py:\d+', result.stderr)


@pytest.mark.slow
def test_fdam_refuses_dynamic_export_naming_the_fft(tmp_path):
    result = run_tool([TOOL, FDAM, '--shape', '64', '64', '--dynamic', '--out',
                       tmp_path / 'fdam.onnx'])
    assert result.returncode == 1
    assert '--dynamic: FreqScale (model.backbone.' in result.stderr
    assert 'aten::fft_rfft2' in result.stderr and 'Drop --dynamic' in result.stderr


@pytest.mark.slow
def test_focal_refuses_dynamic_export_naming_the_layers(tmp_path):
    result = run_tool([TOOL, small_focal_config(tmp_path), '--shape', '64', '64', '--dynamic',
                       '--backbone-only', '--out', tmp_path / 'focal.onnx'])
    assert result.returncode == 1
    assert line_with(result.stderr, '--dynamic', 'FocalAttention',
                     'model.backbone.layers.0.blocks.0.attn'), result.stderr[-3000:]
    assert 'ring keys' in result.stderr and 'Drop --dynamic' in result.stderr
    assert not (tmp_path / 'focal.onnx').exists()


def test_fixed_size_layers_are_refused_dynamic_export_by_name(tmp_path):
    """Focal's graph would pass a check at 96x128 from 64x64 but is wrong where the
    traced Python decisions change (a stage that gets ring keys, more windows than
    one chunk), so --dynamic is refused before tracing, naming every such layer."""
    model = nn.ModuleDict(dict(attn=FocalAttention(32, 2), freq=FreqScale(32, groups=4)))
    with pytest.raises(ExportError) as error:
        export_onnx(model, (64, 64), str(tmp_path / 'x.onnx'), dynamic=True)
    message = str(error.value)
    # each layer type with where it is and how many there are
    assert message.startswith('--dynamic') and 'FocalAttention (attn; 1 layers)' in message
    assert 'FreqScale (freq; 1 layers)' in message
    assert not (tmp_path / 'x.onnx').exists()


@pytest.mark.slow
def test_detector_exports_its_backbone_and_says_what_it_does_not(tmp_path):
    result = run_tool([TOOL, DET, '--shape', '64', '64', '--out', tmp_path / 'det.onnx'])
    assert result.returncode == 1
    assert line_with(result.stderr, 'detector', '--backbone-only'), result.stderr[-3000:]
    assert 'MMDeploy' in result.stderr
    output = export_and_check(tmp_path, DET, '--shape', '64', '64', '--backbone-only')
    assert 'feat0' in output and 'feat3' in output


@pytest.mark.slow
def test_classifier_scores(tmp_path):
    output = export_and_check(tmp_path, CLS, '--shape', '64', '64')
    assert 'cls_score' in output


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_a_missing_checkpoint_is_named(tmp_path):
    result = run_tool([TOOL, VAN, str(tmp_path / 'none.pth'), '--shape', '64', '64',
                       '--out', tmp_path / 'x.onnx'])
    assert result.returncode == 1
    assert 'none.pth' in result.stderr and 'does not exist' in result.stderr
