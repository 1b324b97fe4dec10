"""Test a checkpoint: mIoU for segmentors, mAP for detectors, accuracy for classifiers.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
        [--show-dir DIR] [--tta] [--compile] [--cfg-options key=value ...] [--launcher ...]
        [--non-strict] [--skip-preflight] [--debug]

The checkpoint must fit the model exactly unless --non-strict is given.
``--debug`` (or ``MMFREQ_DEBUG=1``) prints the traceback behind an ``error:`` line.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

from mmfreq.cli.errors import debugging, exit_on_error
from mmfreq.cli.run import add_run_arguments, build_checked_runner, load_run_config
from mmfreq.engine.checkpoint_load_hook import CheckpointLoadHook
from mmfreq.engine.compile import compile_model
from mmfreq.engine.cpu import adapt_to_device


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='save images with predictions drawn on them here')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation with the config's tta_model and tta_pipeline")
    parser.add_argument('--non-strict', action='store_true',
                        help='load a checkpoint that does not fit the model (missing, '
                        'unexpected or reshaped keys), e.g. a deliberate partial load')
    add_run_arguments(parser, 'test_dataloader.batch_size=1')
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


def enable_tta(cfg: Config, config_path: str) -> None:
    """Test through the config's ``tta_model`` on its ``tta_pipeline``, as
    mmseg's and mmdet's tools/test.py do with ``--tta``."""
    missing = [key for key in ('tta_model', 'tta_pipeline') if not cfg.get(key)]
    if missing:
        sys.exit(f'error: --tta: {config_path} defines no {" and no ".join(missing)} '
                 '(mmseg: SegTTAModel with a multi-scale + flip pipeline; mmdet: DetTTAModel, '
                 'boxes only, not instance masks)')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def main(argv=None) -> None:
    args = parse_args(argv)
    debug = debugging(args)
    cfg = load_run_config(args, [(args.config, 'config'), (args.checkpoint, 'checkpoint')])
    cfg.load_from = None  # CheckpointLoadHook reads it, once, in any released layout
    if args.tta:
        enable_tta(cfg, args.config)
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            sys.exit(f'error: --out {args.out!r} must end in .pkl or .pickle')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.out)]
    adapt_to_device(cfg, args.launcher)

    with exit_on_error(debug=debug):
        runner = build_checked_runner(cfg, ['test_dataloader'], not args.skip_preflight)
        if args.compile:
            compile_model(runner.model, cfg.get('compile') or True)
        runner.register_hook(CheckpointLoadHook(args.checkpoint, strict=not args.non_strict))
        runner.test()


if __name__ == '__main__':
    main()
