"""The checks the tools run on a config's data before the first step: the
dataset paths exist, every pipeline is guarded so a bad sample names its
files, and the pre-flight (the data against the heads)."""
import logging
import os.path as osp
from typing import Iterator, List, Sequence, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from mmfreq.errors import UserError
from mmfreq.utils.collect_env import explain_missing_ops

from .doctor import (
    Finding,
    build_unloaded,
    check_dataset,
    check_heads,
    dataset_configs,
    leaf_datasets,
)
from .transforms import CheckedPipeline

# Where users are told to put each known dataset when it is missing.
DATASET_HINTS = {
    'ADE20KDataset': (
        'Download ADEChallengeData2016.zip and unzip it so that '
        'data/ade/ADEChallengeData2016/{images,annotations}/{training,validation} exist '
        '(relative to where you run the tool), or point the config at your copy with '
        '--cfg-options {key}.data_root=/path/to/ADEChallengeData2016. '
        'The built-in small dataset: '
        'python -m mmfreq.datasets.synthetic_scenes data/synthetic_ade'),
    'CocoDataset': (
        'Download COCO 2017 (train2017.zip, val2017.zip, annotations_trainval2017.zip) and '
        'unzip it so that data/coco/{annotations,train2017,val2017} exist (relative to where '
        'you run the tool), or point the config at your copy with --cfg-options '
        '{key}.data_root=/path/to/coco/ and val_evaluator.ann_file=/path/to/coco/annotations/'
        'instances_val2017.json. The built-in small dataset: '
        'python -m mmfreq.datasets.synthetic_scenes data/synthetic_coco --format coco'),
}

# The registered name of the guard around each pipeline.
GUARD_TYPE = f'mmfreq.{CheckedPipeline.__name__}'


class DatasetNotFoundError(FileNotFoundError, UserError):
    """A dataset folder or annotation file named by the config does not exist."""


class PreflightError(ValueError, UserError):
    """The data or the heads of a config would train wrongly or not at all."""


def check_dataset_paths(cfg: Config, loaders: Sequence[str]) -> None:
    """Raise :class:`DatasetNotFoundError` naming the first missing folder or file.

    Args:
        cfg (Config): The full config.
        loaders (Sequence[str]): Dataloader keys to check, e.g. ``['train_dataloader']``.
    """
    for loader in loaders:
        if not cfg.get(loader):
            continue
        for key, dataset in dataset_configs(cfg[loader].dataset, f'{loader}.dataset'):
            root = dataset.get('data_root') or ''
            prefix = dataset.get('data_prefix') or {}
            prefixes = prefix.values() if isinstance(prefix, dict) else [prefix]
            paths = [('folder', root)] if root else []
            paths += [('folder', osp.join(root, p)) for p in prefixes if p]
            if dataset.get('ann_file'):
                paths.append(('file', osp.join(root, dataset.ann_file)))
            for kind, path in paths:
                if not osp.exists(path):
                    hint = DATASET_HINTS.get(str(dataset.get('type')), '').replace('{key}', key)
                    raise DatasetNotFoundError(
                        f'{key} ({dataset.get("type")}): {kind} {path!r} does not exist. ' + hint)


def loader_datasets(cfg: Config,
                     loaders: Sequence[str]) -> Iterator[Tuple[str, ConfigDict]]:
    """(config key, dataset config) of every file-reading dataset of ``loaders``.

    Args:
        cfg (Config): The full config.
        loaders (Sequence[str]): Dataloader keys.
    """
    for loader in loaders:
        if cfg.get(loader):
            yield from leaf_datasets(cfg[loader].dataset, f'{loader}.dataset')


def guard_pipelines(cfg: Config, loaders: Sequence[str]) -> None:
    """Wrap the pipeline of every dataset of ``loaders`` in
    :class:`~mmfreq.datasets.transforms.CheckedPipeline`, so that a sample that
    fails to load, or whose segmentation label is unusable, stops the run
    with an error naming its files. Idempotent.

    The config's default scope must be set (the dataset classes give the
    class count); do this before building the runner, which copies the config.

    Args:
        cfg (Config): The full config.
        loaders (Sequence[str]): Dataloader keys, e.g. ``['train_dataloader', 'val_dataloader']``.
    """
    for _, dataset_cfg in loader_datasets(cfg, loaders):
        pipeline = dataset_cfg.get('pipeline')
        if not pipeline or (len(pipeline) == 1 and isinstance(pipeline[0], dict) and
                            pipeline[0].get('type') == GUARD_TYPE):
            continue
        with explain_missing_ops():
            dataset = build_unloaded(dataset_cfg)
        guard = dict(type=GUARD_TYPE, transforms=pipeline)
        if hasattr(dataset, 'reduce_zero_label'):  # segmentation: labels are class maps
            guard.update(num_classes=len(dataset.metainfo['classes']),
                         ignore_index=getattr(dataset, 'ignore_index', 255))
        dataset_cfg.pipeline = [guard]


def preflight(cfg: Config, loaders: Sequence[str], num_samples: int = 4) -> List[Finding]:
    """Check the data of ``loaders`` and the heads before any step.

    Every head's ``num_classes`` against each dataset's classes, the whole
    file listing or annotation file of each dataset (empty folders, skipped
    files, unpaired images and labels, COCO ids and boxes), and the first
    ``num_samples`` samples decoded (:func:`mmfreq.datasets.doctor.check_dataset`).
    Warnings are logged; errors raise.

    Args:
        cfg (Config): The full config; its default scope must be set.
        loaders (Sequence[str]): Dataloader keys to check.
        num_samples (int): Samples decoded per dataset.

    Returns:
        list[Finding]: The warnings (already logged).

    Raises:
        PreflightError: listing every error, each naming its file or key.
    """
    errors, warnings, seen = [], [], set()
    for key, dataset_cfg in loader_datasets(cfg, loaders):
        files = repr([dataset_cfg.get(k) for k in ('type', 'data_root', 'data_prefix',
                                                   'ann_file', 'metainfo')])
        if files in seen:  # test_dataloader = val_dataloader
            continue
        seen.add(files)
        report = check_dataset(dataset_cfg, key, max_samples=num_samples)
        errors += report.errors
        if report.classes:
            errors += check_heads(cfg.model, report.classes, key)
        warnings += report.warnings
    for finding in warnings:
        print_log(str(finding), logger='current', level=logging.WARNING)
    if errors:
        shown = '\n'.join(f'  {finding}' for finding in errors[:20])
        more = f'\n  ... and {len(errors) - 20} more' if len(errors) > 20 else ''
        raise PreflightError(
            f'the pre-flight check found {len(errors)} problem(s) with the data or the '
            f'model:\n{shown}{more}\nFull report: python tools/misc/check_dataset.py '
            'CONFIG. To run anyway: --skip-preflight')
    return warnings
