"""What ``tools/train.py`` and ``tools/test.py`` share: their common flags, the
config they start from and the checked build of its runner."""
import argparse
import os.path as osp
import sys
from typing import Sequence, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmfreq.apis import build_runner
from mmfreq.datasets.preflight import check_dataset_paths, guard_pipelines, preflight
from mmfreq.errors import UserError, error_message
from mmfreq.utils.cfg_options import apply_cfg_options
from mmfreq.utils.safe_unpickling import enable_safe_checkpoint_loading

from .config import CfgOptionsAction, default_work_dir, fit_workers
from .errors import add_debug_argument, debugging, exit_on_error
from .launch import allow_project_imports, log_model_summary, set_local_rank


class ConfigBuildError(ValueError, UserError):
    """Building the runner failed on a value the config gives: an unknown
    arch, an argument a class does not take, a type no registry has."""


def add_run_arguments(parser: argparse.ArgumentParser, example_option: str) -> None:
    """Add the flags of a run (``--compile``, ``--cfg-options``,
    ``--skip-preflight``, ``--debug``, ``--launcher``, ``--local-rank``) to
    ``parser``, with ``example_option`` (``key=value``) in the help."""
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone and neck (the whole model if it has no '
                        'backbone); heads and losses run eagerly')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help=f'override config keys, e.g. {example_option}')
    parser.add_argument('--skip-preflight', action='store_true',
                        help='do not check the data and the heads\' num_classes first')
    add_debug_argument(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    # torch.distributed.launch passes --local-rank (older: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace, files: Sequence[Tuple[str, str]]) -> Config:
    """Read the config of a run as both tools do: the local rank exported,
    ``projects/`` importable, the safe checkpoint loader on for the process,
    ``--cfg-options`` and ``--launcher`` applied, the work directory set.

    Args:
        args (argparse.Namespace): From :func:`add_run_arguments`, with ``config``, ``work_dir``.
        files (Sequence[tuple[str, str]]): (path, what) of each file that must exist.
    """
    set_local_rank(args.local_rank)
    allow_project_imports()
    enable_safe_checkpoint_loading()
    for path, what in files:
        if not osp.isfile(path):
            sys.exit(f'error: {what} file {path!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    with exit_on_error(debug=debugging(args)):
        apply_cfg_options(cfg, args.cfg_options)
    cfg.work_dir = default_work_dir(args.config, args.work_dir or cfg.get('work_dir'))
    return cfg


def build_checked_runner(cfg: Config, loaders: Sequence[str], run_preflight: bool) -> Runner:
    """Build the runner of ``cfg`` with the pipelines of ``loaders`` guarded (a
    failing sample names its files) and ``persistent_workers`` fitted, log the
    model, check the dataset paths and, if asked, run the pre-flight.

    Args:
        cfg (Config): From :func:`load_run_config`, changed in place.
        loaders (Sequence[str]): The dataloader keys the run reads.
        run_preflight (bool): Check the data against the heads before any step.

    Raises:
        ConfigBuildError: the runner does not build (the config file named).
        UserError: a missing dataset path, mmcv without its ops, a failed pre-flight.
    """
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    guard_pipelines(cfg, loaders)
    fitted = fit_workers(cfg)
    try:
        runner = build_runner(cfg)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigBuildError(f'{cfg.filename}: {error_message(err)}') from err
    for key in fitted:
        runner.logger.warning(f'{key}.num_workers=0: persistent_workers turned off (it needs '
                              'worker processes)')
    log_model_summary(runner)
    check_dataset_paths(cfg, loaders)
    if run_preflight:
        preflight(cfg, loaders)
    return runner
