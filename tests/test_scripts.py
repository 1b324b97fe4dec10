"""The converter and benchmark scripts, run as a user runs them."""
import json

import pytest
import torch

from mmfreq.testing.fixtures import official_file, release_tensors, save_release
from mmfreq.testing.tools import ROOT, SYNTHETIC_CONFIG, run_tool


def official_van_b0_checkpoint(path) -> None:
    """A file named and shaped as the official VAN-B0 release (random values)."""
    save_release(*release_tensors('van_b0_official'), path)


# Official VAN-B0 names -> mmfreq names of tensors whose shapes alone would not
# tell a swap apart (read off the official VAN code and mmfreq's VAN).
PINNED_VAN_NAMES = {
    'patch_embed2.proj.weight': 'stages.1.patch_embed.proj.weight',
    'block2.1.layer_scale_1': 'stages.1.blocks.1.layer_scale_1',
    'block2.1.layer_scale_2': 'stages.1.blocks.1.layer_scale_2',
    'block3.2.attn.proj_1.weight': 'stages.2.blocks.2.attn.proj_1.weight',
    'block3.2.attn.proj_2.weight': 'stages.2.blocks.2.attn.proj_2.weight',
    'block3.2.attn.spatial_gating_unit.conv1.weight': 'stages.2.blocks.2.attn.lka.conv1.weight',
    'block1.0.norm1.running_mean': 'stages.0.blocks.0.norm1.running_mean',
    'block1.0.norm2.running_mean': 'stages.0.blocks.0.norm2.running_mean',
    'norm4.weight': 'stages.3.norm.weight',
}


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_converter_output_loads_through_init_cfg(tmp_path):
    """Every tensor of the official file reaches the model once, each under
    its own name (same-shape tensors are not swapped)."""
    from mmfreq.models.backbones import VAN

    src, dst = tmp_path / 'van_b0.pth', tmp_path / 'out' / 'van_b0_mmfreq.pth'
    official_van_b0_checkpoint(src)
    result = run_tool(['tools/model_converters/van2mmfreq.py', src, dst, '--arch', 'b0'])
    assert result.returncode == 0, result.stderr
    model = VAN(arch='b0', init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    model.init_weights()
    state = model.state_dict()
    official = torch.load(src, weights_only=True)['state_dict']
    for official_name, name in PINNED_VAN_NAMES.items():
        torch.testing.assert_close(state[name], official[official_name], msg=name)
    # every official tensor but the classifier is in the model, once
    model_values = [v.float().flatten() for k, v in state.items()
                    if not k.endswith('num_batches_tracked')]
    for key, value in official.items():
        if key.startswith('head.') or key.endswith('num_batches_tracked'):
            continue
        matches = sum(v.shape == value.flatten().shape and torch.equal(v, value.float().flatten())
                      for v in model_values)
        assert matches == 1, (key, matches)


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_converter_names_the_misfit_of_another_arch(tmp_path):
    src = tmp_path / 'van_b0.pth'
    official_van_b0_checkpoint(src)
    result = run_tool(['tools/model_converters/van2mmfreq.py', src, tmp_path / 'x.pth',
                       '--arch', 'b2'])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: VAN arch 'b2': {src} (read as official VAN release")
    assert 'does not fit VAN' in last
    assert 'stages.0.patch_embed.proj.weight' in last  # 32 vs 64 channels
    assert not (tmp_path / 'x.pth').exists()


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_model_converter_names_the_misfit_and_writes_nothing(tmp_path):
    src = official_file('van_b1_fpn_ade20k', tmp_path / 'fpn_van_b1.pth')
    config = ROOT / 'configs' / 'fpn_van_b0_ade20k_released.py'
    result = run_tool(['tools/model_converters/model2mmfreq.py', src, tmp_path / 'x.pth',
                       '--config', config])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: the model of {config}: {src} (read as official '
                           'VAN-Segmentation release')
    assert 'does not fit EncoderDecoder' in last
    assert 'backbone.stages.0.patch_embed.proj.weight (64, 3, 7, 7) in the file' in last
    assert not (tmp_path / 'x.pth').exists()


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
