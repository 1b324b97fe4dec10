"""tools/analysis_tools/benchmark.py's latency path on every kind of model."""
import json

import pytest
import torch

from mmfreq.analysis.benchmarking import run_once
from mmfreq.analysis.flops import tracing_forward
from mmfreq.apis import build_model_from_config
from mmfreq.testing.tools import ROOT, run_tool

# One shipped config per kind of host model, the smallest of its kind.
CONFIG_OF_KIND = {
    'segmentor': 'configs/fpn_van_t_synthetic.py',
    'one-stage detector': 'configs/retinanet_van_t_synthetic.py',
    'two-stage detector': 'configs/mask_rcnn_van_t_synthetic.py',
    'classifier': 'configs/aa_r50_in1k.py',
}


@pytest.mark.slow  # builds four whole host models: over a minute together on 2 cores
@pytest.mark.parametrize('kind', sorted(CONFIG_OF_KIND))
def test_images_alone_run_the_whole_forward(kind):
    """What the latency run calls: the model with a batch of images and nothing else."""
    model = build_model_from_config(str(ROOT / CONFIG_OF_KIND[kind]))
    images = torch.randn(2, 3, 64, 96)
    traced = tracing_forward(model, images)
    outputs = traced(images)
    leaves = [t for t in torch.utils._pytree.tree_leaves(outputs) if isinstance(t, torch.Tensor)]
    assert leaves and all(torch.isfinite(t).all() for t in leaves), kind
    if kind == 'two-stage detector':  # the RoI heads ran on the RPN's proposals
        assert leaves[0].shape[-1] == model.roi_head.bbox_head.num_classes + 1
    run_once(traced, images, backward=False)


@pytest.mark.slow  # a subprocess: a fresh interpreter, a Mask R-CNN and a peak-memory child
def test_two_stage_detector_prints_latency_and_memory(tmp_path):
    out = tmp_path / 'bench.jsonl'
    result = run_tool(['tools/analysis_tools/benchmark.py', 'configs/mask_rcnn_van_t_synthetic.py',
                       '--shape', '64', '96', '--iters', '1', '--out', out])
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'latency' in result.stdout and 'peak' in result.stdout
    record = json.loads(out.read_text().splitlines()[-1])
    assert record['latency_ms'] > 0 and record['peak_memory_mb'] >= 0
