"""Helpers the tests share for running the repository's tools and configs."""
import copy
import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional, Union

from mmengine.config import Config

#: The repository checkout mmfreq is imported from (tests run from a source tree).
ROOT = Path(__file__).resolve().parents[2]
#: The segmentation config that trains on the built-in synthetic scenes.
SYNTHETIC_CONFIG = ROOT / 'configs' / 'fpn_van_t_synthetic.py'


def small_run_options(data_root: Path, max_iters: int, interval: int) -> List[str]:
    """``--cfg-options`` for a seconds-long run of the synthetic config on
    ``data_root`` (written by ``write_ade20k``): ``max_iters`` iterations,
    validation and checkpoints every ``interval``."""
    options = [f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={interval}',
               f'default_hooks.checkpoint.interval={interval}', 'default_hooks.logger.interval=1',
               'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
               f'param_scheduler.1.end={max_iters}', 'train_dataloader.batch_size=2']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def load_script(path: Union[str, Path]) -> ModuleType:
    """A script (not a package module) loaded as a module, to call its functions
    in this process: ``path`` relative to :data:`ROOT`, or absolute. It is not
    put in ``sys.modules``."""
    path = ROOT / path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args: List[str], cwd: Path = ROOT, timeout: int = 600,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run a repository script in a subprocess and capture its output.

    Args:
        args (list): The script's path relative to :data:`ROOT` (run with
            ``bash`` when it ends in ``.sh``, else with this Python), then its
            arguments.
        cwd (Path): Working directory of the run.
        timeout (int): Seconds before the run is killed.
        env (dict, optional): Variables added to this process's environment.

    """
    program = ['bash'] if str(args[0]).endswith('.sh') else [sys.executable]
    args = [ROOT / args[0], *args[1:]]
    return subprocess.run(program + [str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@functools.lru_cache(maxsize=None)
def _config_at(path: str) -> Config:
    return Config.fromfile(path)


def read_config(path: Union[str, Path]) -> Config:
    """A copy of the config at ``path``, read from disk once per process:
    reading one that inherits ``mmseg::`` / ``mmdet::`` bases parses the host
    packages' model indexes (about two seconds each time)."""
    return copy.deepcopy(_config_at(str(path)))


def training_scalars(work_dir: Path) -> Dict[int, dict]:
    """{iteration: logged training scalars} of every run in ``work_dir``, in run
    order (a resumed run's iterations replace the earlier run's)."""
    logged = {}
    for path in sorted(Path(work_dir).glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if 'lr' in record:
                logged[record['step']] = record
    return logged
