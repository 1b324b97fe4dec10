"""Train a model from an mmfreq (or any mmdet / mmseg / mmpretrain) config.

    python tools/train.py configs/upernet_van_b.py [--work-dir DIR] [--resume [CKPT]]
        [--amp] [--compile] [--cfg-options key=value ...] [--launcher {none,pytorch,slurm,mpi}]
        [--skip-preflight] [--debug]

``--debug`` (or ``MMFREQ_DEBUG=1``) prints the traceback behind an ``error:`` line.

Before the first step the pre-flight checks the data against the model (see
docs/reliability.md); every sample that fails to load names its files.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfreq.apis import build_runner
from mmfreq.cli.config import CfgOptionError, CfgOptionsAction, apply_cfg_options, default_work_dir
from mmfreq.cli.errors import add_debug_argument, debugging, exit_on_error
from mmfreq.cli.launch import allow_project_imports, log_model_summary, set_local_rank
from mmfreq.datasets.preflight import (
    DatasetNotFoundError,
    PreflightError,
    check_dataset_paths,
    guard_pipelines,
    preflight,
)
from mmfreq.datasets.transforms import SampleError
from mmfreq.engine.checkpoint_hook import CheckpointError, CheckpointLoadHook
from mmfreq.engine.cpu import adapt_to_device
from mmfreq.utils import enable_safe_checkpoint_loading
from mmfreq.utils.collect_env import MMCVOpsMissingError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector, segmentor or classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint in the work dir '
                        'when no path is given')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--compile', action='store_true',
                        help="torch.compile the training step (mmengine's compile=True)")
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument('--skip-preflight', action='store_true',
                        help='do not check the data and the heads\' num_classes before training')
    add_debug_argument(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    # torch.distributed.launch passes --local-rank (older: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    debug = debugging(args)
    set_local_rank(args.local_rank)
    allow_project_imports()
    # mmengine checkpoints (resume, load_from) need it under torch >= 2.6, whatever
    # the config imports (see mmfreq/safe_loading.py)
    enable_safe_checkpoint_loading()
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    with exit_on_error(CfgOptionError, debug=debug):
        apply_cfg_options(cfg, args.cfg_options)
    cfg.work_dir = default_work_dir(args.config, args.work_dir or cfg.get('work_dir'))
    if args.amp:
        if not torch.cuda.is_available():
            sys.exit('error: --amp needs a CUDA device (mmengine\'s AmpOptimWrapper); '
                     'on CPU train without it')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.compile:  # keeps a config's own torch.compile arguments
        cfg.compile = cfg.get('compile') or True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    # Fine-tuning from a trained model: read strictly, in any released layout, by
    # CheckpointLoadHook instead of mmengine's partial load (resuming stays mmengine's).
    fine_tune_from = None if cfg.get('resume') else cfg.get('load_from')
    if fine_tune_from:
        cfg.load_from = None
    adapt_to_device(cfg, args.launcher)

    loaders = ['train_dataloader', 'val_dataloader']
    with exit_on_error(DatasetNotFoundError, MMCVOpsMissingError, PreflightError, debug=debug):
        init_default_scope(cfg.get('default_scope', 'mmengine'))
        guard_pipelines(cfg, loaders)
        runner = build_runner(cfg)
        log_model_summary(runner)
        if fine_tune_from:
            runner.register_hook(CheckpointLoadHook(fine_tune_from, training=True))
        check_dataset_paths(cfg, loaders)
        if not args.skip_preflight:
            preflight(cfg, loaders)
    # a bad sample; pretrained weights that could not be downloaded
    with exit_on_error(SampleError, ConnectionError, CheckpointError, debug=debug):
        runner.train()


if __name__ == '__main__':
    main()
