"""projects/example_project: a user backbone registered in the mmfreq scope,
with FDAM layers, trained and tested by mmfreq's tools."""
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfreq.testing.tools import ROOT, run_tool, small_run_options

CONFIG = ROOT / 'projects' / 'example_project' / 'configs' / 'fpn_tiny_fdam_synthetic.py'


@pytest.mark.slow
def test_train_then_test_through_the_tools(synthetic_root, tmp_path):
    work_dir = tmp_path / 'work'
    options = small_run_options(synthetic_root, 4, 4)
    train = run_tool(['tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
                      *options])
    assert train.returncode == 0, train.stderr[-3000:]
    assert 'backbone TinyFDAMNet' in train.stdout + train.stderr
    test = run_tool(['tools/test.py', CONFIG, work_dir / 'iter_4.pth', '--work-dir', work_dir,
                     '--cfg-options', *options])
    assert test.returncode == 0, test.stderr[-3000:]
    assert re.search(r'mIoU: \d+\.\d+', test.stdout + test.stderr)


@pytest.mark.parametrize('fdam', [True, False])
def test_fdam_switch_adds_exactly_the_fdam_parameters(fdam, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    cfg = Config.fromfile(str(CONFIG))
    init_default_scope('mmseg')
    from mmfreq.registry import MODELS
    backbone = MODELS.get('TinyFDAMNet')(fdam=fdam)
    names = [n for n, _ in backbone.named_parameters()]
    fdam_names = [n for n in names if '.att_inv.' in n or 'freq_scale' in n]
    assert bool(fdam_names) == fdam
    outs = backbone(torch.randn(1, 3, 70, 50))
    assert [o.shape[1] for o in outs] == list(cfg.model.neck.in_channels)
    assert [o.shape[-2:] for o in outs] == [(18, 13), (9, 7), (5, 4), (3, 2)]
