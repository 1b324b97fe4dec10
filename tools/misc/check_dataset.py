"""Check every file of a config's datasets before training on them.

    python tools/misc/check_dataset.py CONFIG [--split train val test]
        [--fix-report FILE] [--workers N] [--cfg-options key=value ...]

Prints each problem with the file it is in (see mmfreq/datasets/doctor.py for
what is checked), the class frequencies, and the heads' num_classes against
the dataset's classes. Exit status 0 only when nothing was found; 1 otherwise.
``--fix-report`` writes the findings as JSON, one entry per file.
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfreq.cli.config import CfgOptionsAction
from mmfreq.cli.errors import add_debug_argument, debugging, exit_on_error
from mmfreq.cli.launch import allow_project_imports
from mmfreq.datasets.doctor import (
    DatasetReport,
    Kind,
    Severity,
    check_dataset,
    check_heads,
    expected_num_classes,
    leaf_datasets,
)
from mmfreq.utils.cfg_options import apply_cfg_options

LOADERS = {'train': 'train_dataloader', 'val': 'val_dataloader', 'test': 'test_dataloader'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', nargs='+', choices=list(LOADERS), default=list(LOADERS),
                        help='which dataloaders to check (default: all the config has)')
    parser.add_argument('--fix-report', help='write the findings to this JSON file')
    parser.add_argument('--workers', type=int, default=None,
                        help='decoding threads (default: one per CPU)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config keys, e.g. '
                        'train_dataloader.dataset.data_root=/data/ade')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def print_report(report: DatasetReport) -> None:
    """The summary of one dataset: samples, speed, class frequencies, findings."""
    unit = 'pixels' if report.kind is Kind.SEGMENTATION else 'instances'
    seconds = report.decode_seconds
    rate = f', {report.num_checked / seconds:.0f} samples/s' if seconds > 0 else ''
    print(f'\n== {report.key} ({report.dataset_type}, {report.kind}): {report.num_samples} '
          f'samples, {report.num_checked} decoded in {seconds:.2f} s{rate}')
    total = sum(report.class_counts.values()) or 1
    for name, count in report.class_counts.items():
        print(f'   {name:<24} {count:>12} {unit} ({100 * count / total:5.1f}%)')
    for finding in report.findings:
        print(f'   {finding}')


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    allow_project_imports()
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config!r} does not exist')
    cfg = Config.fromfile(args.config)
    with exit_on_error(debug=debugging(args)):
        apply_cfg_options(cfg, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    reports, seen = [], set()
    for split in args.split:
        if not cfg.get(LOADERS[split]):
            continue
        for key, dataset_cfg in leaf_datasets(cfg[LOADERS[split]].dataset,
                                              f'{LOADERS[split]}.dataset'):
            files = repr([dataset_cfg.get(k) for k in ('type', 'data_root', 'data_prefix',
                                                       'ann_file', 'metainfo')])
            if files in seen:
                print(f'\n== {key}: the same files as above')
                continue
            seen.add(files)
            report = check_dataset(dataset_cfg, key, workers=args.workers, progress=True)
            if report.classes:
                report.findings.extend(check_heads(cfg.model, report.classes, key))
            print_report(report)
            reports.append(report)
    heads = expected_num_classes(cfg.get('model'))
    print('\nheads: ' + (', '.join(f'{k}={v}' for k, v in heads) or 'none with num_classes'))
    findings = [(r.key, f) for r in reports for f in r.findings]
    errors = sum(f.severity is Severity.ERROR for _, f in findings)
    print(f'{len(findings)} finding(s): {errors} error(s), {len(findings) - errors} warning(s)')
    if args.fix_report:
        with open(args.fix_report, 'w') as f:
            json.dump([dict(dataset=key, path=finding.path, severity=finding.severity.value,
                            problem=finding.message) for key, finding in findings], f, indent=1)
        print(f'findings written to {args.fix_report}')
    return 1 if findings else 0


if __name__ == '__main__':
    sys.exit(main())
