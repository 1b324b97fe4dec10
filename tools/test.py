"""Test a checkpoint: mIoU for segmentors, mAP for detectors, accuracy for classifiers.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
        [--show-dir DIR] [--cfg-options key=value ...] [--launcher ...]
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

from mmfreq.apis import (
    DatasetNotFoundError,
    adapt_to_device,
    allow_project_imports,
    build_runner,
    check_dataset_paths,
    default_work_dir,
    set_local_rank,
)
from mmfreq.utils.collect_env import MMCVOpsMissingError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='save images with predictions drawn on them here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. test_dataloader.batch_size=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """Switch on the host library's visualization hook, writing into ``show_dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        sys.exit('error: --show-dir needs default_hooks.visualization in the config')
    if hook.type == 'SegVisualizationHook':  # mmseg: the visualizer saves
        hook.draw, hook.interval = True, 1
        cfg.visualizer.save_dir = show_dir
    elif hook.type == 'DetVisualizationHook':
        hook.draw, hook.test_out_dir = True, osp.abspath(show_dir)
    else:  # mmpretrain's VisualizationHook
        hook.enable, hook.out_dir = True, osp.abspath(show_dir)


def main(argv=None) -> None:
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    allow_project_imports()
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'error: {what} file {path!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = default_work_dir(args.config, args.work_dir or cfg.get('work_dir'))
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            sys.exit(f'error: --out {args.out!r} must end in .pkl or .pickle')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.out)]
    adapt_to_device(cfg, args.launcher)

    try:
        runner = build_runner(cfg)
        check_dataset_paths(cfg, ['test_dataloader'])
    except (DatasetNotFoundError, MMCVOpsMissingError) as err:
        sys.exit(f'error: {err}')
    runner.test()


if __name__ == '__main__':
    main()
