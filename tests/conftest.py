from pathlib import Path
from types import SimpleNamespace

import pytest

from mmfreq.datasets.synthetic_scenes import write_ade20k
from mmfreq.testing.tools import SYNTHETIC_CONFIG, run_tool


def pytest_configure(config) -> None:
    config.addinivalue_line(
        'markers', 'slow: end-to-end runs (subprocess train/test/resume, dist, mim); '
        'skip them with -m "not slow"')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> Path:
    """A tiny copy of the built-in dataset: 16 training and 4 validation scenes."""
    root = tmp_path_factory.mktemp('synthetic_ade')
    write_ade20k(str(root), num_train=16, num_val=4, seed=0)
    return root


@pytest.fixture(scope='session')
def trained_demo(tmp_path_factory) -> SimpleNamespace:
    """The demo config trained by tools/train.py for 200 iterations (a third of
    its schedule) on the full built-in data, validated at the end: ``root``
    (the data), ``work_dir``, ``checkpoint`` (iter_200.pth) and ``output``.
    Tests that read it carry ``pytest.mark.xdist_group('trained_demo')``, so
    that under pytest-xdist one worker runs them all and trains it once."""
    root = tmp_path_factory.mktemp('synthetic_ade_full')
    write_ade20k(str(root), seed=0)
    work_dir = tmp_path_factory.mktemp('trained_demo')
    options = [f'{loader}.dataset.data_root={root}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    result = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir,
                       '--cfg-options', 'train_cfg.max_iters=200', 'train_cfg.val_interval=200',
                       'param_scheduler.1.end=200', 'randomness.seed=0', *options], timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return SimpleNamespace(root=root, work_dir=work_dir, checkpoint=work_dir / 'iter_200.pth',
                           output=output)
