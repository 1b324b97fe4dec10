"""The FDAM diagnostics (issue 35) report what the weights, activity and
gradients of FreqScale and AttInv are: the init values of a fresh model,
values set by hand, outputs known in closed form, and gradients that reach
every parameter; the tool reports them on the MiT and ViT detail configs."""
import json
import math

import pytest
import torch
import torch.nn as nn

from mmfreq.analysis.fdam_diagnostics import (
    activity_hooks,
    att_inv_weights,
    diagnose,
    fdam_modules,
    format_report,
    freq_scale_weights,
    gradient_norms,
    unreached,
)
from mmfreq.apis import build_model_from_config
from mmfreq.datasets.detail_scenes import write_detail
from mmfreq.models import FDAMMiT, FDAMVisionTransformer
from mmfreq.models.layers import AttInv, FreqScale
from mmfreq.testing.fixtures import save_runner_like_checkpoint
from mmfreq.testing.tools import ROOT, load_script, read_config, run_tool

TOOL = 'tools/analysis_tools/fdam_diagnostics.py'
MIT_CONFIG = ROOT / 'configs' / 'segformer_mit_b0_fdam_detail.py'
VIT_CONFIG = ROOT / 'configs' / 'upernet_deit_s_fdam_detail.py'
# the narrow four-stage MiT of test_fdam_mit.py (widths 8, 16, 16, 32)
TINY = dict(embed_dims=8, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 2, 4])
SMALL_FREQ = dict(groups=4, num_filters=2, basis_size=6, router_ratio=0.5)
SIZE = (64, 96)


def tiny_mit(**kwargs) -> FDAMMiT:
    torch.manual_seed(0)
    model = FDAMMiT(TINY, freq_scale_cfg=SMALL_FREQ, **kwargs)
    model.init_weights()
    return model.eval()


def tiny_vit() -> FDAMVisionTransformer:
    torch.manual_seed(0)
    model = FDAMVisionTransformer(img_size=32, patch_size=8, embed_dims=16, num_layers=2,
                                  num_heads=2, out_indices=(0, 1), freq_scale_cfg=SMALL_FREQ)
    model.init_weights()
    return model.eval()


def tiny_segmentor() -> nn.Module:
    """segformer_mit_b0_fdam_detail.py's segmentor with the tiny MiT and head."""
    cfg = read_config(MIT_CONFIG)
    cfg.model.backbone.update(arch=TINY, freq_scale_cfg=SMALL_FREQ)
    cfg.model.decode_head.update(in_channels=[8, 16, 16, 32], channels=16)
    torch.manual_seed(0)
    model = build_model_from_config(cfg)
    model.init_weights()
    return model


def seg_batch(batch: int, seed: int) -> dict:
    """A data loader batch of random uint8 images and labels of the 10 classes."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, *SIZE), generator=gen, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=SIZE, ori_shape=SIZE, pad_shape=SIZE))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 10, (1, *SIZE), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def run_backbone(model: nn.Module, batch: int = 2) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        model(torch.randn(batch, 3, *SIZE))


# ------------------------------------------------------------------- weights

def test_modules_are_found_by_name_on_both_hosts():
    mit = fdam_modules(tiny_mit())
    assert [n for n, _ in mit['freq_scale']][:3] == [
        'layers.0.1.0.attn_freq_scale', 'layers.0.1.0.ffn_freq_scale',
        'layers.1.1.0.attn_freq_scale']
    assert len(mit['freq_scale']) == 2 * 5 and len(mit['att_inv']) == 5
    assert mit['att_inv'][0][0] == 'layers.0.1.0.attn.att_inv'
    vit = fdam_modules(tiny_vit())
    assert [n for n, _ in vit['freq_scale']] == [
        'layers.0.attn_freq_scale', 'layers.0.ffn_freq_scale',
        'layers.1.attn_freq_scale', 'layers.1.ffn_freq_scale']
    assert [n for n, _ in vit['att_inv']] == ['layers.0.attn.att_inv', 'layers.1.attn.att_inv']
    assert fdam_modules(tiny_mit(att_inv=False, freq_scale=False)) == dict(
        freq_scale=[], att_inv=[])


def test_fresh_model_reports_its_initial_values():
    modules = fdam_modules(tiny_mit())
    for name, module in modules['freq_scale']:
        weights = freq_scale_weights(module)
        assert weights['init_std'] == 1e-5
        # 96 normal draws of std 1e-5: within 25% of it
        assert weights['std_ratio'] == pytest.approx(1.0, abs=0.25), name
        assert weights['basis_std'] == pytest.approx(weights['std_ratio'] * 1e-5)
        assert 1e-5 < weights['basis_max_abs'] < 6e-5
    for name, module in modules['att_inv']:
        weights = att_inv_weights(module)
        assert weights['gamma_init'] == 1e-5
        for term in ('lowpass_gamma', 'highpass_gamma'):
            for stat in ('mean', 'min', 'max'):
                assert weights[term][stat] == pytest.approx(1e-5, rel=1e-6), (name, term)
        for gate in ('lowpass_gate_weight_norm', 'highpass_gate_weight_norm'):
            assert 0 < weights[gate] < 1


def test_init_values_other_than_the_default_are_the_reference():
    torch.manual_seed(0)
    weights = freq_scale_weights(FreqScale(64, num_filters=8, init_std=3e-3))
    assert weights['init_std'] == 3e-3
    assert weights['std_ratio'] == pytest.approx(1.0, abs=0.05)  # 3584 draws
    assert att_inv_weights(AttInv(8, 2, gamma_init=0.5))['gamma_init'] == 0.5


def test_weights_set_by_hand_are_reported():
    fs = FreqScale(8, **SMALL_FREQ)
    with torch.no_grad():
        # +-2e-3 in equal numbers: std exactly 2e-3 (population), max |value| 2e-3
        fs.basis.copy_(2e-3 * (-1.0) ** torch.arange(fs.basis.numel()).view_as(fs.basis))
        fs.router[-1].weight.fill_(0.5)
    weights = freq_scale_weights(fs)
    assert weights['basis_std'] == pytest.approx(2e-3, rel=1e-6)
    assert weights['std_ratio'] == pytest.approx(200, rel=1e-6)
    assert weights['basis_max_abs'] == pytest.approx(2e-3, rel=1e-6)
    assert weights['router_last_weight_norm'] == pytest.approx(
        0.5 * math.sqrt(fs.router[-1].weight.numel()))

    att = AttInv(4, 2, highpass=False)
    with torch.no_grad():
        att.lowpass_gamma.copy_(torch.tensor([1.0, -2.0, 3.0, 6.0]))
        att.lowpass_gate.weight.fill_(1.5)  # 2 x 4
    weights = att_inv_weights(att)
    assert weights['lowpass_gamma'] == dict(mean=2.0, min=-2.0, max=6.0)
    assert weights['lowpass_gate_weight_norm'] == pytest.approx(1.5 * math.sqrt(8))
    assert weights['highpass_gamma'] is None and weights['highpass_gate_weight_norm'] is None


# ------------------------------------------------------------------ activity

def test_zero_basis_gives_no_freq_scale_output_and_zero_gammas_no_modulation():
    model = tiny_mit()
    with torch.no_grad():
        for _, fs in fdam_modules(model)['freq_scale']:
            fs.basis.zero_()
        for _, att in fdam_modules(model)['att_inv']:
            att.lowpass_gamma.zero_()
            att.highpass_gamma.zero_()
    with activity_hooks(model) as activity:
        run_backbone(model)
    assert len(activity) == 15
    for name, result in activity.items():
        if name.endswith('freq_scale'):
            assert result['relative_output'] == 0.0, name
            assert 0 < result['mean_abs_alpha'] < 1, name
        else:
            assert result == dict(relative_modulation=0.0), name


def known_freq_scale_(fs: FreqScale, logit: float, value: float) -> float:
    """Make ``fs`` scale every bin by a constant: alpha = tanh(logit) for every
    filter (StarReLU gives 1 everywhere, the last Linear sums it), a constant
    basis; returns the factor, num_filters * tanh(logit) * value."""
    hidden = fs.router[-1].weight.shape[1]
    with torch.no_grad():
        fs.router[1].scale.zero_()
        fs.router[1].bias.fill_(1.0)
        fs.router[-1].weight.fill_(logit / hidden)
        fs.basis.fill_(value)
    return fs.num_filters * math.tanh(logit) * value


def test_relative_sizes_of_outputs_known_in_closed_form():
    model = tiny_mit()
    factors = {}
    for i, (name, fs) in enumerate(fdam_modules(model)['freq_scale']):
        factors[name] = known_freq_scale_(fs, logit=0.1 * (i + 1), value=-0.05)
    # AttInv: a = tanh(0.5) from the low-pass gate's bias, no high-pass term:
    # out - AV = AV * a * gamma_lf
    for _, att in fdam_modules(model)['att_inv']:
        with torch.no_grad():
            att.lowpass_gate.weight.zero_()
            att.lowpass_gate.bias.fill_(0.5)
            att.lowpass_gamma.fill_(0.2)
            att.highpass_gamma.zero_()
    with activity_hooks(model) as activity:
        run_backbone(model)
        run_backbone(model, batch=1)  # pooled over calls: still the same ratio
    for name, factor in factors.items():
        assert activity[name]['relative_output'] == pytest.approx(abs(factor), rel=1e-4), name
        logit = 0.1 * (list(factors).index(name) + 1)
        assert activity[name]['mean_abs_alpha'] == pytest.approx(math.tanh(logit), rel=1e-6)
    for name, _ in fdam_modules(model)['att_inv']:
        assert activity[name]['relative_modulation'] == pytest.approx(
            math.tanh(0.5) * 0.2, rel=1e-5), name


def test_hooks_are_removed_and_uncalled_modules_say_so():
    model = tiny_mit()
    with activity_hooks(model) as activity:
        pass
    assert all(v is None for result in activity.values() for v in result.values())
    assert not any(m._forward_hooks for m in model.modules())


# ----------------------------------------------------------------- gradients

def test_gradients_reach_every_fdam_parameter_of_a_fresh_segmentor():
    model = tiny_segmentor()
    report = diagnose(model, [seg_batch(1, seed=1)], seg_batch(2, seed=2))
    assert not model.training
    assert math.isfinite(report['loss']) and report['loss'] > 0
    assert len(report['freq_scale']) == 10 and len(report['att_inv']) == 5
    names = {'freq_scale': {'basis', 'router.0.weight', 'router.1.scale', 'router.1.bias',
                            'router.2.weight'},
             'att_inv': {'lowpass_gamma', 'highpass_gamma', 'gate_act.scale', 'gate_act.bias',
                         'lowpass_gate.weight', 'lowpass_gate.bias', 'highpass_gate.weight',
                         'highpass_gate.bias'}}
    for kind in ('freq_scale', 'att_inv'):
        for layer in report[kind]:
            assert set(layer['parameters']) == names[kind]
            for param, norms in layer['parameters'].items():
                assert 0 < norms['grad_norm'] < math.inf, (layer['name'], param)
    assert unreached(report) == []
    assert report['freq_scale'][0]['std_ratio'] == pytest.approx(1.0, abs=0.25)
    assert report['freq_scale'][0]['relative_output'] > 0
    assert report['att_inv'][0]['relative_modulation'] > 0
    json.dumps(report)  # plain numbers, lists and dicts


def test_gradient_norms_are_those_of_the_grad_tensors():
    fs = FreqScale(8, **SMALL_FREQ)
    (fs(torch.randn(2, 5, 6, 8)).square().sum() * 1e6).backward()
    norms = gradient_norms(fs)
    assert norms['basis'] == dict(norm=pytest.approx(float(fs.basis.detach().norm())),
                                  grad_norm=pytest.approx(float(fs.basis.grad.norm())))
    fs.basis.grad = None
    assert gradient_norms(fs)['basis']['grad_norm'] is None


def test_report_names_parameters_no_gradient_reaches():
    model = tiny_segmentor()
    first = fdam_modules(model)['freq_scale'][0][1]
    first.basis.requires_grad_(False)  # as a frozen stage would leave it
    report = diagnose(model, [seg_batch(1, seed=1)], seg_batch(2, seed=2))
    assert unreached(report) == ['backbone.layers.0.1.0.attn_freq_scale.basis']
    text = format_report(report)
    assert 'FreqScale (10)' in text and 'AttInv (5)' in text
    assert 'backbone.layers.3.1.0.attn.att_inv' in text
    assert text.splitlines()[-1] == ('no finite, non-zero gradient reaches 1 of 90 parameters: '
                                     'backbone.layers.0.1.0.attn_freq_scale.basis')


def test_a_router_whose_relus_are_all_off_is_named():
    # no hidden unit on and StarReLU's bias at its initial 0: alpha = 0, so
    # only that bias learns from the batch, not the basis; a 2-unit router
    # (MiT-B0, 32 channels) can end there for a batch
    model = tiny_segmentor()
    name, fs = fdam_modules(model)['freq_scale'][3]
    with torch.no_grad():
        fs.router[0].weight.zero_()
    report = diagnose(model, [seg_batch(1, seed=1)], seg_batch(2, seed=2))
    assert report['freq_scale'][3]['mean_abs_alpha'] == 0.0
    assert unreached(report) == [f'{name}.{p}' for p in (
        'basis', 'router.0.weight', 'router.1.scale', 'router.2.weight')]
    assert report['freq_scale'][3]['parameters']['router.1.bias']['grad_norm'] > 0


# ---------------------------------------------------------------------- tool

def load_tool():
    return load_script(TOOL)


def test_tool_names_a_config_without_fdam(tmp_path):
    config = str(ROOT / 'configs' / 'segformer_mit_b0_detail.py')
    with pytest.raises(SystemExit) as stopped:
        load_tool().main([config, str(tmp_path / 'none.pth')])
    error = str(stopped.value.code)
    assert error.startswith('error: ') and config in error
    assert 'no FreqScale and no AttInv' in error


@pytest.fixture(scope='module')
def detail_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('detail')
    write_detail(str(root), num_train=4, num_val=2, seed=0)
    return root


@pytest.mark.slow
@pytest.mark.parametrize('config, num_freq_scale, num_att_inv',
                         [(MIT_CONFIG, 16, 8), (VIT_CONFIG, 12, 6)], ids=['mit', 'vit'])
def test_tool_reports_a_checkpoint_of_a_detail_config(config, num_freq_scale, num_att_inv,
                                                      detail_root, tmp_path):
    checkpoint = tmp_path / 'model.pth'
    save_runner_like_checkpoint(config, checkpoint)  # every weight uniform in +-0.1
    out = tmp_path / 'report' / 'fdam.json'
    options = [f'{loader}.dataset.data_root={detail_root}'
               for loader in ('train_dataloader', 'test_dataloader')]
    result = run_tool([TOOL, config, checkpoint, '--num-images', '2', '--out', out,
                       '--cfg-options', *options])
    assert out.is_file(), result.stderr[-3000:]
    report = json.loads(out.read_text())
    # exit status 1 where a gradient is missing: with these random weights a
    # router's ReLUs can all be off for the two training images (the next test)
    assert result.returncode == (1 if unreached(report) else 0), result.stderr[-3000:]
    assert report['num_images'] == 2 and math.isfinite(report['loss'])
    assert len(report['freq_scale']) == num_freq_scale
    assert len(report['att_inv']) == num_att_inv
    uniform_std = 0.1 / math.sqrt(3)
    for layer in report['freq_scale']:
        assert layer['name'].startswith('backbone.layers.')
        assert layer['std_ratio'] == pytest.approx(uniform_std / 1e-5, rel=0.1)
        assert layer['relative_output'] > 0 and 0 < layer['mean_abs_alpha'] < 1
    for layer in report['att_inv']:
        assert -0.1 <= layer['lowpass_gamma']['min'] < layer['lowpass_gamma']['max'] <= 0.1
        assert layer['relative_modulation'] > 0
    for kind, learned in (('freq_scale', ['basis']),
                          ('att_inv', ['lowpass_gamma', 'highpass_gamma'])):
        for layer in report[kind]:
            assert all(math.isfinite(n['grad_norm']) for n in layer['parameters'].values())
            assert all(layer['parameters'][p]['grad_norm'] > 0 for p in learned)
    assert f'FreqScale ({num_freq_scale})' in result.stdout
    assert f'AttInv ({num_att_inv})' in result.stdout
    assert 'gradient' in result.stdout.splitlines()[-2]  # the verdict, then 'wrote'
