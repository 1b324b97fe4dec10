"""The backbone benchmark driver: every family's models compute the reference's
function with its weights, the record is one format for every family, the
largest difference covers every output, and docs/benchmarks.md's tables are
what benchmarks/results/ gives."""
import json

import pytest
import torch

from mmfreq.analysis.backbone_benchmarks import (
    FAMILIES,
    Row,
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
from mmfreq.testing.tools import ROOT, run_tool

# small arches, so that building every model takes seconds
SMALL_ARCH = dict(van='b0', focal='tiny', aa_resnet='50', fdam='small', freq_scale='32')


@pytest.mark.parametrize('family', [
    # building three to five whole backbones: 10-20 s each on 2 loaded cores
    pytest.param(name, marks=pytest.mark.slow) if name != 'freq_scale' else name
    for name in sorted(FAMILIES)])
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


@pytest.mark.slow  # a subprocess: 15 models, each also measured in a fresh child process
def test_driver_writes_one_line_per_row_for_every_family(tmp_path):
    out = tmp_path / 'backbones.jsonl'
    result = run_tool(['tools/analysis_tools/benchmark_backbones.py', '--arch', 'van=b0',
                       'fdam=small', '--modes', 'inference', '--inference-sizes', '56',
                       '--iters', '1', '--warmup', '0', '--no-compile', '--out', out],
                      timeout=1200)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r['family'], r['mode'], r['shape']) for r in lines] == [
        (family, 'inference', [1, 3, 56, 56]) for family in ('van', 'focal', 'aa_resnet', 'fdam')]
    for line in lines:
        family = FAMILIES[line['family']]
        row = Row(line['mode'], tuple(line['shape'][2:]), 1)
        assert list(line['results']) == list(family.models_of(row)), line['family']
        assert all(r['latency_ms'] > 0 and r['peak_mb'] >= 0 for r in line['results'].values())
        assert line['max_abs_diff'] and max(line['max_abs_diff'].values()) < 1e-4
        assert line['command'].endswith('--out ' + str(out))
    assert 'mmfreq_deploy' in lines[0]['results']


def test_driver_arguments(monkeypatch, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'benchmark_backbones', ROOT / 'tools' / 'analysis_tools' / 'benchmark_backbones.py')
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
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
