"""Train a model from an mmfreq (or any mmdet / mmseg / mmpretrain) config.

    python tools/train.py configs/upernet_van_b.py [--work-dir DIR] [--resume [CKPT]]
        [--amp] [--compile] [--cfg-options key=value ...] [--launcher {none,pytorch,slurm,mpi}]
        [--skip-preflight] [--debug]

``--debug`` (or ``MMFREQ_DEBUG=1``) prints the traceback behind an ``error:`` line.

Checkpoints are written atomically. ``--resume`` takes the newest checkpoint
of the work dir that can be read, and checks it against the config before
loading. On SIGTERM or SIGUSR1 (a preemption) the current iteration is
finished and saved, and the exit status is 75 (see docs/reliability.md, "Runs
that survive").

Before the first step the pre-flight checks the data against the model (see
docs/reliability.md); every sample that fails to load names its files.
"""
import argparse
import sys

import torch

from mmfreq.cli.errors import debugging, exit_on_error
from mmfreq.cli.run import add_run_arguments, build_checked_runner, load_run_config
from mmfreq.engine.atomic_checkpoint_hook import use_atomic_checkpoints
from mmfreq.engine.checkpoint_load_hook import CheckpointLoadHook
from mmfreq.engine.compile import compile_model
from mmfreq.engine.cpu import adapt_to_device
from mmfreq.engine.preemption import PreemptionHook, TrainingPreempted, exit_preempted
from mmfreq.engine.resume import RESUME_NEWEST, ResumeCheckHook, plan_resume


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector, segmentor or classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const=RESUME_NEWEST,
                        help='resume from CKPT, or from the latest checkpoint in the work dir '
                        'when no path is given')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    add_run_arguments(parser, 'train_cfg.max_iters=100')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    debug = debugging(args)
    cfg = load_run_config(args, [(args.config, 'config')])
    if args.amp:
        if not torch.cuda.is_available():
            sys.exit('error: --amp needs a CUDA device (mmengine\'s AmpOptimWrapper); '
                     'on CPU train without it')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    # the backbone and neck, not mmengine's whole train_step (see compile_model), with
    # the config's own torch.compile arguments if it has any
    compile_cfg = (cfg.pop('compile', None) or True) if args.compile else None
    with exit_on_error(debug=debug):
        plan = plan_resume(args.resume, cfg)
        plan.apply(cfg)
        use_atomic_checkpoints(cfg)
        adapt_to_device(cfg, args.launcher)
        runner = build_checked_runner(cfg, ['train_dataloader', 'val_dataloader'],
                                      not args.skip_preflight)
        runner.logger.info(plan.reason)
        if compile_cfg:
            compile_model(runner.model, compile_cfg)
        if plan.fine_tune_from:  # strictly, in any released layout, not mmengine's partial load
            runner.register_hook(CheckpointLoadHook(plan.fine_tune_from, training=True))
        if plan.point:  # checked against the config before mmengine loads it
            runner.register_hook(ResumeCheckHook(plan.point, cfg.work_dir))
        preemption = PreemptionHook()
        runner.register_hook(preemption)
        try:
            with preemption.handling_signals():
                runner.train()
        except TrainingPreempted as stopped:
            exit_preempted(stopped)


if __name__ == '__main__':
    main()
