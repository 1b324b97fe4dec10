"""The backbone benchmark driver: every family's models compute the reference's
function with its weights, the record is one format for every family, the
largest difference covers every output, and docs/benchmarks.md's tables are
what benchmarks/results/ gives."""
import json

import pytest
import torch

from mmfreq.analysis.backbone_benchmarks import (
    ABLATION_SETTINGS,
    FAMILIES,
    Row,
    build_fdam_mit,
    build_fdam_mit_ablation,
    max_abs_difference,
    output_differences,
)
from mmfreq.analysis.benchmark_tables import (
    BEGIN,
    END,
    load_records,
    render_tables,
    update_document,
)
from mmfreq.models.layers import FreqScale
from mmfreq.testing.tools import ROOT, load_script, run_tool

# small arches, so that building every model takes seconds
SMALL_ARCH = dict(van='b0', focal='tiny', aa_resnet='50', fdam='small', freq_scale='32',
                  fdam_mit='b0', fdam_deit_s='tiny')


@pytest.mark.parametrize('family', [
    # building three to five whole backbones: 10-20 s each on 2 loaded cores (fdam_mit's
    # parity is also checked in the fast tier, by the driver row test)
    pytest.param(name, marks=pytest.mark.slow) if name != 'freq_scale' else name
    for name in sorted(FAMILIES)
    if name not in ('fdam_mit_ablation', 'fdam_layers')])  # (no parity model)
def test_every_model_of_a_family_has_the_reference_weights(family):
    """Each model that computes the reference's function gives its outputs
    (so it was built with the same weights), on an input of odd size."""
    size = (40, 56) if family != 'freq_scale' else (12, 9)
    differences = output_differences(FAMILIES[family], SMALL_ARCH[family],
                                     Row('inference', size, 2))
    assert differences, family
    assert max(differences.values()) < 1e-4, differences


def test_largest_difference_covers_every_output():
    """A difference in any output counts, not only in the last one."""
    expected = (torch.zeros(2, 3), [torch.zeros(4)], {'c': torch.zeros(1)})
    assert max_abs_difference((torch.zeros(2, 3), [torch.zeros(4)], {'c': torch.zeros(1)}),
                              expected) == 0
    first = (torch.full((2, 3), 0.5), [torch.zeros(4)], {'c': torch.zeros(1)})
    assert max_abs_difference(first, expected) == 0.5
    nested = (torch.zeros(2, 3), [torch.tensor([0, 0, -2.0, 0])], {'c': torch.zeros(1)})
    assert max_abs_difference(nested, expected) == 2
    with pytest.raises(ValueError, match=r'\(3, 2\) vs \(2, 3\)'):
        max_abs_difference((torch.zeros(3, 2),), (torch.zeros(2, 3),))
    with pytest.raises(ValueError, match='structure'):
        max_abs_difference((torch.zeros(1),), (torch.zeros(1), torch.zeros(1)))


def _freq_scale_parameters(channels: int, groups: int, num_filters: int) -> int:
    """FreqScale's parameters at FDAM's trained basis size 14 and router ratio 0.0625."""
    hidden = max(1, int(channels * 0.0625))
    router = channels * hidden + 2 + hidden * groups * num_filters  # 2: StarReLU's scale, bias
    return router + num_filters * channels // groups * 14 * (14 // 2 + 1)


def test_fdam_host_models_carry_the_hosts_weights():
    """The FDAM MiT's reference is the plain host on mmseg's weights; each FDAM
    model holds those weights and FDAM's parts, and only the parts it names."""
    reference = build_fdam_mit('b0', 'reference', (64, 64)).state_dict()
    mmseg = build_fdam_mit('b0', 'mmseg', (64, 64)).state_dict()
    assert reference.keys() == mmseg.keys()
    assert all(torch.equal(reference[k], mmseg[k]) for k in reference)
    for model, parts in [('mmfreq', {'att_inv', 'freq_scale'}), ('host+att_inv', {'att_inv'}),
                         ('host+freq_scale', {'freq_scale'})]:
        state = build_fdam_mit('b0', model, (64, 64)).state_dict()
        assert all(torch.equal(state[k], v) for k, v in reference.items()), model
        new = {part for part in ('att_inv', 'freq_scale')
               if any(f'{part}.' in k for k in state.keys() - reference.keys())}
        assert new == parts, model
    with pytest.raises(KeyError, match="'vit'"):
        build_fdam_mit('b0', 'vit', (64, 64))


def test_ablation_settings_are_freq_scales_of_those_filters_and_groups():
    """Each ablation model's FreqScales have its num_filters and groups (groups
    32 on MiT-B0's 32-channel stage 1: one channel per group), and its
    parameters are the FDAM-less-FreqScale model's plus the FreqScales'
    counted from their sizes; the host weights are the plain MiT's."""
    family, row = FAMILIES['fdam_mit_ablation'], Row('inference', (45, 38), 1)
    assert family.models_of(row) == ('reference', *(f'filters{n}_groups{g}' for n in (2, 4, 8)
                                                     for g in (8, 16, 32)))
    with_att_inv = sum(p.numel() for p in build_fdam_mit('b0', 'host+att_inv', row.size)
                       .parameters())
    reference = family.build('b0', 'reference', row.size).state_dict()
    # every num_filters and every groups once (all nine: 3x longer)
    for name in ('filters2_groups8', 'filters4_groups16', 'filters8_groups32'):
        setting = ABLATION_SETTINGS[name]
        model = build_fdam_mit_ablation('b0', name, row.size)
        layers = [m for m in model.modules() if isinstance(m, FreqScale)]
        assert {(m.groups, m.num_filters) for m in layers} == \
            {(setting['groups'], setting['num_filters'])}, name
        channels = [m.basis.shape[1] * m.groups for m in layers]
        assert channels == [c for c in (32, 64, 160, 256) for _ in range(4)]  # 2 blocks x 2
        assert sum(p.numel() for p in model.parameters()) == with_att_inv + sum(
            _freq_scale_parameters(c, setting['groups'], setting['num_filters'])
            for c in channels), name
        state = model.state_dict()
        assert all(torch.equal(state[k], v) for k, v in reference.items())
    # the last one built: 8 filters, 32 groups
    stage1 = model.layers[0][1][0]
    assert stage1.attn_freq_scale.basis.shape == (8, 1, 14, 8)  # one channel per group
    assert stage1.attn_freq_scale.router[-1].weight.shape == (32 * 8, 2)  # hidden 0.0625 x 32
    with torch.no_grad():
        out = model(torch.randn(1, 3, *row.size))
    assert [tuple(o.shape[1:]) for o in out] == [(32, 12, 10), (64, 6, 5), (160, 3, 3),
                                                 (256, 2, 2)]
    assert all(torch.isfinite(o).all() for o in out)


def _line(family, time, mmfreq_ms, mode='inference', shape=(1, 3, 64, 64), compiled=None,
          **extra):
    results = {'reference': dict(latency_ms=100.0, peak_mb=50.0),
               'mmfreq': dict(latency_ms=mmfreq_ms, peak_mb=25.0),
               'attention_free': dict(latency_ms=20.0, peak_mb=10.0)}
    if compiled:
        results['mmfreq_compiled'] = dict(latency_ms=compiled, peak_mb=5.0)
    return dict(family=family, arch='x', mode=mode, shape=list(shape), reference='r',
                bound='attention_free', results=results, max_abs_diff={'mmfreq': 3e-6},
                device='cpu', device_name='cpu', threads=2, torch='t', load_average=[0.5],
                time=time, run=time, command=f'cmd {time}', **extra)


def test_tables_show_the_latest_line_of_each_row_on_the_latest_day():
    lines = [_line('van', '2026-12-01T10:00:00', 10.0),  # an older day: left out
             _line('van', '2026-12-01T10:00:00', 11.0, shape=(1, 3, 32, 32)),
             _line('van', '2026-12-03T09:00:00', 70.0, compiled=35.0),
             _line('van', '2026-12-03T11:00:00', 40.0),  # the latest of its row
             _line('van', '2026-12-03T11:00:00', 80.0, mode='training_step')]
    tables = render_tables(lines)
    eager = tables.split('### CPU: compiled')[0]
    assert '| VAN-x, inference 1x3x64x64 | 40 | 100 | 0.40 | 0.20 (attention_free) |' in eager
    assert '| VAN-x, training step 1x3x64x64 | 80 | 100 | 0.80 |' in eager
    assert '32x32' not in tables and '0.10' not in eager and '| 70 |' not in eager
    # compiled over eager of the line that timed both: 35 / 70
    assert '| VAN-x, inference 1x3x64x64 | mmfreq 0.50 (0.20) | [2] |' in tables
    assert '`cmd 2026-12-03T09:00:00`' in tables and 'cmd 2026-12-01' not in tables


def _host_line(family, time, models, mode='inference', params=None, **extra):
    return dict(family=family, arch='b0', mode=mode, shape=[1, 3, 512, 512], reference='r',
                bound=None, results={m: dict(latency_ms=ms, peak_mb=ms / 10)
                                     for m, ms in models.items()},
                max_abs_diff=extra.pop('max_abs_diff', {}), params=params or {}, device='cpu',
                device_name='cpu', threads=2, torch='t', time=time, run=time,
                command=f'cmd {time}', **extra)


def test_tables_of_fdam_over_its_host_and_of_the_ablation():
    """FDAM's time over the host's (not over mmseg's), mmseg's parity beside
    it, parameters; the ablation's settings by (num_filters, groups) with their
    time over the plain MiT in each row; families without lines named."""
    host = dict(reference=100.0, mmfreq=130.0, mmseg=105.0)
    lines = [
        _host_line('fdam_mit', '2026-12-06T10:00:00',
                   {**host, 'host+att_inv': 110.0, 'host+freq_scale': 120.0},
                   params=dict(reference=3_319_392, mmfreq=3_423_184),
                   max_abs_diff=dict(mmseg=6e-6)),
        _host_line('fdam_mit_ablation', '2026-12-05T10:00:00',  # an older day: left out
                   dict(reference=100.0, filters2_groups8=999.0)),
        _host_line('fdam_mit_ablation', '2026-12-06T10:00:00',
                   dict(reference=100.0, filters8_groups32=150.0, filters2_groups8=120.0),
                   params=dict(reference=3_319_392, filters2_groups8=3_417_040,
                               filters8_groups32=3_447_760)),
        _host_line('fdam_mit_ablation', '2026-12-06T11:00:00',
                   dict(reference=200.0, filters8_groups32=340.0, filters2_groups8=260.0),
                   mode='training_step')]
    tables = render_tables(lines)
    assert 'mmfreq against the reference formulations' not in tables  # no such line
    assert ('| FDAM-MiT-b0, inference 1x3x512x512 | 130 | 100 | 1.30 | 1.10 | 1.20 | 1.05 | '
            '1.30 | 3.32 M, 3.42 M | 6.0e-06 | [1] |') in tables
    ablation = tables.split('num_filters and groups')[1]
    assert ablation.index('| b0, 2, 8 | 3.42 M | +97.6 k | 1.20 | 1.30 | [1] [2] |') < \
        ablation.index('| b0, 8, 32 | 3.45 M | +128.4 k | 1.50 | 1.70 | [1] [2] |')
    assert '999' not in tables and '5.00' not in tables
    assert 'Not measured yet: VAN, Focal, AA-ResNet, FDAM-DeiT3, FDAM-DeiT, FreqScale' in tables


def test_docs_tables_are_generated_from_the_committed_lines():
    doc = (ROOT / 'docs' / 'benchmarks.md').read_text()
    records = load_records(ROOT / 'benchmarks' / 'results' / 'backbones.jsonl')
    assert update_document(doc, render_tables(records)) == doc, (
        'run python tools/analysis_tools/benchmark_tables.py')
    with pytest.raises(ValueError, match='no marker'):
        update_document(doc.replace(END, ''), '')
    assert BEGIN in doc


def test_committed_lines_have_one_format():
    keys = {'family', 'arch', 'mode', 'shape', 'reference', 'bound', 'results', 'max_abs_diff',
            'device', 'device_name', 'threads', 'torch', 'time', 'run', 'command'}
    for line in load_records(ROOT / 'benchmarks' / 'results' / 'backbones.jsonl'):
        assert keys <= set(line), (line['time'], keys - set(line))
        assert line['mode'] in ('inference', 'training_step')
        assert 'reference' in line['results'], line['time']
        for result in line['results'].values():
            assert set(result) == {'latency_ms', 'peak_mb'}, line['time']
        if 'params' in line:  # lines since 2026-12-06
            eager = [name for name in line['results'] if not name.endswith('_compiled')]
            assert list(line['params']) == eager, line['time']


@pytest.mark.slow  # a subprocess: four models, each also measured in a fresh child process
def test_driver_writes_one_line_per_row(tmp_path):
    out = tmp_path / 'backbones.jsonl'
    result = run_tool(['tools/analysis_tools/benchmark_backbones.py', '--families', 'van',
                       '--arch', 'van=b0', '--modes', 'inference', '--inference-sizes', '56',
                       '--iters', '1', '--warmup', '0', '--no-compile', '--out', out],
                      timeout=1200)
    assert result.returncode == 0, result.stderr[-2000:]
    [line] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (line['family'], line['mode'], line['shape']) == ('van', 'inference', [1, 3, 56, 56])
    row = Row(line['mode'], tuple(line['shape'][2:]), 1)
    assert list(line['results']) == list(FAMILIES['van'].models_of(row))
    assert all(r['latency_ms'] > 0 and r['peak_mb'] >= 0 for r in line['results'].values())
    assert line['max_abs_diff'] and max(line['max_abs_diff'].values()) < 1e-4
    assert line['command'].endswith('--out ' + str(out))
    assert 'mmfreq_deploy' in line['results']


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_every_family_builds_in_the_peak_memory_process(family):
    """The driver rebuilds each model in a spawned process from a pickled
    ``partial(family.build, ...)``: the builder must pickle by its name."""
    import functools
    import pickle

    build = functools.partial(FAMILIES[family].build, 'arch', 'model', (8, 8))
    assert pickle.loads(pickle.dumps(build)).func is FAMILIES[family].build


def _driver():
    return load_script('tools/analysis_tools/benchmark_backbones.py')


def test_driver_row_of_an_fdam_host_records_parity_and_parameters(monkeypatch):
    """In process, with the timing replaced: the line of an fdam_mit row has
    every model's time and parameter count, and the output difference of
    mmseg's host only (the FDAM models compute another function)."""
    driver = _driver()
    timed = {}

    def compare_models(builders, shape, reference, *args):
        timed.update(builders=list(builders), shape=shape, reference=reference)
        return {name: dict(latency_ms=float(i + 1), peak_mb=1.0, latency_ratio=1.0,
                           memory_ratio=1.0) for i, name in enumerate(builders)}

    monkeypatch.setattr(driver, 'compare_models', compare_models)
    args = driver.parse_args(['--families', 'fdam_mit', '--no-compile'])
    assert driver.rows_of('fdam_mit', args) == [Row('inference', (512, 512), 1),
                                                 Row('training_step', (512, 512), 2)]
    row = Row('inference', (40, 56), 1)
    record = driver.run_row('fdam_mit', 'b0', row, args, dict(device='cpu'))
    models = ['reference', 'mmfreq', 'mmseg', 'host+att_inv', 'host+freq_scale']
    assert timed == dict(builders=models, shape=(1, 3, 40, 56), reference='reference')
    assert list(record['results']) == list(record['params']) == models
    assert list(record['max_abs_diff']) == ['mmseg'] and record['max_abs_diff']['mmseg'] < 1e-4
    params = record['params']
    assert params['reference'] == params['mmseg'] == 3_319_392  # MiT-B0 (DESIGN.md section 9)
    assert params['reference'] < params['host+att_inv'] < params['mmfreq']
    assert params['reference'] < params['host+freq_scale'] < params['mmfreq']
    assert record['shape'] == [1, 3, 40, 56] and record['bound'] is None


def test_driver_arguments(monkeypatch, capsys):
    driver = _driver()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit):
        driver.parse_args(['--device', 'cuda'])
    assert '--device cuda' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        driver.parse_args(['--arch', 'vann=b0'])
    assert "'vann=b0'" in capsys.readouterr().err
    args = driver.parse_args(['--families', 'aa_resnet', '--train-sizes', '64', '--batch', '3',
                              '--modes', 'training_step'])
    assert driver.rows_of('aa_resnet', args) == [Row('training_step', (64, 64), 3)]
