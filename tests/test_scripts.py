"""The converter and benchmark scripts, run as a user runs them."""
import json

import pytest
import torch

from mmfreq.testing.fixtures import official_file, release_tensors, save_release
from mmfreq.testing.tools import ROOT, SYNTHETIC_CONFIG, run_tool



def official_van_b0_checkpoint(path) -> None:
    """A file named and shaped as the official VAN-B0 release (random values)."""
    save_release(*release_tensors('van_b0_official'), path)


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_converter_output_loads_through_init_cfg(tmp_path):
    from mmfreq.models.backbones import VAN

    src, dst = tmp_path / 'van_b0.pth', tmp_path / 'out' / 'van_b0_mmfreq.pth'
    official_van_b0_checkpoint(src)
    result = run_tool(['tools/model_converters/van2mmfreq.py', src, dst, '--arch', 'b0'])
    assert result.returncode == 0, result.stderr
    model = VAN(arch='b0', init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    model.init_weights()
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert set(converted) == set(model.state_dict())


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_converter_names_the_misfit_of_another_arch(tmp_path):
    src = tmp_path / 'van_b0.pth'
    official_van_b0_checkpoint(src)
    result = run_tool(['tools/model_converters/van2mmfreq.py', src, tmp_path / 'x.pth',
                       '--arch', 'b2'])
    assert result.returncode == 1
    assert "does not fit VAN arch 'b2'" in result.stderr
    assert 'stages.0.patch_embed.proj.weight' in result.stderr  # 32 vs 64 channels
    assert not (tmp_path / 'x.pth').exists()


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_model_converter_names_the_misfit_and_writes_nothing(tmp_path):
    src = official_file('van_b1_fpn_ade20k', tmp_path / 'fpn_van_b1.pth')
    config = ROOT / 'configs' / 'fpn_van_b0_ade20k_released.py'
    result = run_tool(['tools/model_converters/model2mmfreq.py', src, tmp_path / 'x.pth',
                       '--config', config])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: {src} does not fit the model of {config}: checkpoint {src} '
                           'does not fit the model EncoderDecoder (read as official '
                           'VAN-Segmentation release')
    assert 'backbone.stages.0.patch_embed.proj.weight (64, 3, 7, 7) in the file' in last
    assert not (tmp_path / 'x.pth').exists()


@pytest.mark.slow
def test_van_benchmark_writes_its_ratios(tmp_path):
    out = tmp_path / 'van.jsonl'
    result = run_tool(['tools/analysis_tools/benchmark_van.py', '--arch', 'b0', '--size', '64',
                       '--train-sizes', '64', '--no-compile', '--iters', '1', '--out', out])
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text().splitlines()[-1])
    rows = record['rows']
    assert set(rows) == {'forward_64', 'train_64_batch2'}
    for row in rows.values():
        assert set(row['results']) >= {'official', 'mmfreq', 'attention_free'}
        assert row['results']['mmfreq']['latency_ratio'] > 0
    assert max(record['max_abs_diff'].values()) < 1e-4


@pytest.mark.slow
def test_focal_and_aa_benchmarks_time_the_attention_free_bound(tmp_path):
    runs = {'focal': (['tools/analysis_tools/benchmark_focal.py', '--sizes', '64x64',
                       '--compile-sizes'],
                      lambda r: [r['64x64'][mode] for mode in ('inference', 'training_step')]),
            'aa': (['tools/analysis_tools/benchmark_aa_resnet.py', '--size', '64',
                    '--train-sizes', '64', '--no-compile'],
                   lambda r: [row['results'] for row in r['rows'].values()])}
    for name, (command, result_rows) in runs.items():
        out = tmp_path / f'{name}.jsonl'
        result = run_tool(command + ['--iters', '1', '--out', out])
        assert result.returncode == 0, result.stderr[-2000:]
        record = json.loads(out.read_text().splitlines()[-1])
        rows = result_rows(record)
        assert len(rows) == 2, (name, record)
        for row in rows:
            assert row['attention_free']['latency_ms'] > 0
            assert 0 < row['mmfreq']['latency_ratio']


@pytest.mark.slow
def test_config_benchmark_writes_params_and_flops(tmp_path):
    out = tmp_path / 'bench.jsonl'
    result = run_tool(['tools/analysis_tools/benchmark.py', SYNTHETIC_CONFIG, '--shape', '64',
                       '64', '--iters', '1', '--out', out], cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text().splitlines()[-1])
    from mmfreq.apis import build_model_from_config
    model = build_model_from_config(str(SYNTHETIC_CONFIG))
    assert record['params'] == sum(p.numel() for p in model.parameters())
    assert record['flops'] > 0 and record['latency_ms'] > 0 and record['peak_memory_mb'] >= 0
