"""Check a trained FDAM model for the defects that would make FDAM do nothing.

    python tools/analysis_tools/fdam_diagnostics.py CONFIG CHECKPOINT \
        [--num-images 4] [--out FILE.json] [--seed 0] [--cfg-options key=value ...]

For every FreqScale and AttInv of the model (by module name; definitions in
``mmfreq/analysis/fdam_diagnostics.py``): the weights against their 1e-5
initialisation; what the layer does on the first ``--num-images`` images of
the config's test set (mean |alpha| and ||FS(x)|| / ||x||; ||out - AV|| /
||AV||); the norm of each of its parameters and of its gradient after one
forward and backward of the training loss on one batch of ``--num-images``
training images (the config's pipeline, seeded by ``--seed``). Prints a
table per layer kind; ``--out`` writes everything as JSON. Exit status 1
when a gradient is missing, zero or not finite.
"""
import argparse
import json
import os
import os.path as osp
import sys
from itertools import islice
from typing import List, Optional

from mmengine.config import Config
from mmengine.runner import set_random_seed

from mmfreq.analysis.fdam_diagnostics import check_fdam, diagnose, format_report, unreached
from mmfreq.apis import build_dataloader_from_config, build_model_from_config
from mmfreq.cli.config import CfgOptionsAction
from mmfreq.cli.errors import add_debug_argument, debugging, exit_on_error
from mmfreq.datasets.preflight import check_dataset_paths
from mmfreq.utils.cfg_options import apply_cfg_options
from mmfreq.utils.safe_unpickling import safe_checkpoint_loading
from mmfreq.utils.weights import load_model_weights


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='trained whole-model checkpoint')
    parser.add_argument('--num-images', type=int, default=4,
                        help='test images measured, and the training batch size (default 4)')
    parser.add_argument('--out', metavar='FILE.json', help='write the report here')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the training batch (sampler, augmentation, drop path)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config keys, e.g. '
                        'train_dataloader.dataset.data_root=/data/detail')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error(f'--num-images must be at least 1, got {args.num_images}')
    return args


def run(args: argparse.Namespace) -> dict:
    """The report of ``args.config`` with ``args.checkpoint`` loaded."""
    cfg = Config.fromfile(args.config)
    apply_cfg_options(cfg, args.cfg_options)
    model = build_model_from_config(cfg)
    try:
        check_fdam(model)
    except ValueError as err:
        raise ValueError(f'{args.config}: {err}') from None
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist')
    check_dataset_paths(cfg, ['train_dataloader', 'test_dataloader'])
    with safe_checkpoint_loading():
        load_model_weights(model, args.checkpoint, strict=True)
    # the sampler, the pipeline's random transforms (in this process) and drop path
    set_random_seed(args.seed)
    test_loader = build_dataloader_from_config(cfg, 'test_dataloader', batch_size=1,
                                               num_workers=0)
    train_loader = build_dataloader_from_config(cfg, 'train_dataloader', args.num_images,
                                                num_workers=0, seed=args.seed)
    report = diagnose(model, islice(test_loader, args.num_images), next(iter(train_loader)))
    return dict(config=args.config, checkpoint=args.checkpoint, num_images=args.num_images,
                seed=args.seed, **report)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    with exit_on_error(ValueError, FileNotFoundError, debug=debugging(args)):
        report = run(args)
    print(format_report(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
        print(f'wrote {args.out}')
    return 1 if unreached(report) else 0


if __name__ == '__main__':
    sys.exit(main())
