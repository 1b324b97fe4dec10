"""Train a model from an mmfreq (or any mmdet / mmseg / mmpretrain) config.

    python tools/train.py configs/upernet_van_b.py [--work-dir DIR] [--resume [CKPT]]
        [--amp] [--cfg-options key=value ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction

from mmfreq.apis import (
    DatasetNotFoundError,
    adapt_to_device,
    allow_project_imports,
    build_runner,
    check_dataset_paths,
    default_work_dir,
    log_model_summary,
    set_local_rank,
)
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
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    # torch.distributed.launch passes --local-rank (older: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    allow_project_imports()
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = default_work_dir(args.config, args.work_dir or cfg.get('work_dir'))
    if args.amp:
        if not torch.cuda.is_available():
            sys.exit('error: --amp needs a CUDA device (mmengine\'s AmpOptimWrapper); '
                     'on CPU train without it')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    adapt_to_device(cfg, args.launcher)

    try:
        runner = build_runner(cfg)
        log_model_summary(runner)
        check_dataset_paths(cfg, ['train_dataloader', 'val_dataloader'])
    except (DatasetNotFoundError, MMCVOpsMissingError) as err:
        sys.exit(f'error: {err}')
    runner.train()


if __name__ == '__main__':
    main()
