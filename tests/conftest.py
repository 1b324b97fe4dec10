import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from mmfreq.datasets.synthetic_scenes import write_ade20k

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC_CONFIG = ROOT / 'configs' / 'fpn_van_t_synthetic.py'


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


def small_run_options(data_root: Path, max_iters: int, interval: int) -> List[str]:
    """--cfg-options for a seconds-long run of the synthetic config on ``data_root``."""
    options = [f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={interval}',
               f'default_hooks.checkpoint.interval={interval}', 'default_hooks.logger.interval=1',
               'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
               f'param_scheduler.1.end={max_iters}', 'train_dataloader.batch_size=2']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def run_tool(args: List[str], cwd: Path = ROOT, timeout: int = 600,
             env: dict = None) -> subprocess.CompletedProcess:
    """Run the repository script ``args[0]`` with ``python`` (``bash`` for .sh)."""
    program = ['bash'] if str(args[0]).endswith('.sh') else [sys.executable]
    args = [ROOT / args[0], *args[1:]]
    return subprocess.run(program + [str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
