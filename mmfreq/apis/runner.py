"""What ``tools/train.py`` and ``tools/test.py`` share: ``--cfg-options``
checking, config fixes for the device at hand, dataset checks with actionable
errors (paths, the pre-flight, pipelines that name the failing file), runner
and runner building."""
import argparse
import difflib
import inspect
import logging
import os
import os.path as osp
import sys
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.dist import all_reduce_params
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.registry import MODELS, RUNNERS, init_default_scope
from mmengine.runner import Runner

from mmfreq.datasets.doctor import (
    Finding,
    build_unloaded,
    check_dataset,
    check_heads,
    dataset_configs,
    leaf_datasets,
)
from mmfreq.datasets.transforms import CheckedPipeline
from mmfreq.utils.collect_env import MMCVOpsMissingError, mmcv_ops_problem

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


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder or annotation file named by the config does not exist."""


class PreflightError(ValueError):
    """The data or the heads of a config would train wrongly or not at all."""


class CfgOptionError(ValueError):
    """A ``--cfg-options`` entry names a key the config does not have."""


# The registered name of the guard around each pipeline.
GUARD_TYPE = f'mmfreq.{CheckedPipeline.__name__}'

# Top-level keys mmengine's Runner (and the host toolboxes' tools) read that a
# config need not set: --cfg-options may add them.
RUNTIME_KEYS = frozenset(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'} | {
    'activation_checkpointing', 'compile', 'custom_imports', 'efficient_conv_bn_eval',
    'find_unused_parameters', 'model_wrapper_cfg', 'runner_type', 'sync_bn', 'tta_model',
    'tta_pipeline'}


class CfgOptionsAction(DictAction):
    """mmengine's ``--cfg-options`` parser, with an argparse error naming an
    entry that has no ``=`` (mmengine raises a bare ``ValueError``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str], option_string: Optional[str] = None) -> None:
        for entry in values:
            if '=' not in entry:
                parser.error(f'{option_string} entry {entry!r} has no "=": write KEY=VALUE, '
                             f'e.g. {entry}=...')
        super().__call__(parser, namespace, values, option_string)


def apply_cfg_options(cfg: Config, options: Optional[Dict[str, object]]) -> None:
    """Merge parsed ``--cfg-options`` into ``cfg``, refusing a top-level key that
    the config does not have and mmengine does not read (a misspelling would
    otherwise be ignored silently).

    Args:
        cfg: The config.
        options: Dotted key -> value, as :class:`CfgOptionsAction` parses them.

    Raises:
        CfgOptionError: naming the key and the closest existing keys.
    """
    if not options:
        return
    known = set(cfg.keys())
    for key in options:
        top = key.split('.')[0]
        if top not in known and top not in RUNTIME_KEYS:
            close = difflib.get_close_matches(top, sorted(known | RUNTIME_KEYS), n=3)
            hint = f'; did you mean {" or ".join(map(repr, close))}?' if close else ''
            raise CfgOptionError(f'--cfg-options {key}: the config has no top-level key '
                                 f'{top!r}{hint}')
    cfg.merge_from_dict(options)


def check_dataset_paths(cfg: Config, loaders: List[str]) -> None:
    """Raise :class:`DatasetNotFoundError` naming the first missing folder or file.

    Args:
        cfg: The full config.
        loaders: Dataloader keys to check, e.g. ``['train_dataloader']``.
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


def adapt_to_device(cfg: Config, launcher: str) -> None:
    """Make a GPU-minded config launch on a machine without CUDA.

    A distributed launch uses the gloo backend and DDP without device ids
    (mmengine assumes one CUDA device per process). SyncBN is reverted to BN
    on the built model (:class:`CPURunner`).
    """
    if torch.cuda.is_available() or launcher == 'none':
        return
    cfg.setdefault('env_cfg', ConfigDict()).setdefault('dist_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper


def build_model_from_config(config: str) -> torch.nn.Module:
    """The model of an mmfreq / mmdet / mmseg / mmpretrain config, in eval
    mode, with BN for SyncBN on CPU and without loading pretrained weights.

    Raises:
        ValueError: the config has no ``default_scope`` (which toolbox's
            registry builds it would be a guess).
    """
    cfg = Config.fromfile(config)
    if not cfg.get('default_scope'):
        raise ValueError(f'{config} has no default_scope: inherit a runtime base of mmdet, '
                         "mmseg or mmpretrain, or set e.g. default_scope = 'mmseg'")
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    if not torch.cuda.is_available():
        model = revert_sync_batchnorm(model)  # SyncBN's forward needs CUDA
    return model.eval()


class CPURunner(Runner):
    """mmengine's Runner, with SyncBN reverted to BN as soon as the model is
    built: SyncBN's forward needs CUDA, and mmengine reverts it itself only
    when not distributed (a gloo launch would fail at the first step)."""

    def build_model(self, model: object) -> torch.nn.Module:
        return revert_sync_batchnorm(super().build_model(model))


class SyncBuffersEveryIterHook(Hook):
    """Average the model's buffers (BN running statistics) over the ranks after
    every training iteration, so every validation and every checkpoint sees one
    model.

    DDP keeps the parameters equal but not the buffers (mmengine wraps with
    ``broadcast_buffers=False``), and plain BN, what SyncBN becomes on CPU,
    updates its statistics from each rank's own batch. mmengine's
    ``SyncBuffersHook`` averages only after a training epoch or before a
    validation, which in an iteration-based loop is after that iteration's
    checkpoint was saved from rank 0's statistics. The running statistics are
    exponential moving averages, linear in the batch statistics, so averaging
    them every iteration gives the same model as averaging them once before
    use; its cost is one all-reduce of the buffers.
    """

    priority = 'ABOVE_NORMAL'  # before EMA (NORMAL) and checkpoint (VERY_LOW) hooks

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch: object = None,
                         outputs: object = None) -> None:
        all_reduce_params(runner.model.buffers(), op='mean')


@contextmanager
def explain_missing_ops() -> Iterator[None]:
    """Re-raise a registry ``KeyError`` or an ``ImportError`` as
    :class:`MMCVOpsMissingError` when mmcv's compiled ops are what is missing."""
    try:
        yield
    except (KeyError, ImportError) as err:
        problem = mmcv_ops_problem()
        if problem is not None:
            raise MMCVOpsMissingError(problem) from err
        raise


def build_runner(cfg: Config) -> Runner:
    """Build the runner (and with it the model); on CPU a :class:`CPURunner`,
    with :class:`SyncBuffersEveryIterHook` when distributed.

    Without mmcv's compiled ops, mmdet's model modules fail to import and
    mmengine only warns, so the build later fails with a bare "not in the
    registry" ``KeyError`` (or an ``ImportError`` from a module that imports
    the ops): see :func:`explain_missing_ops`.
    """
    with explain_missing_ops():
        if 'runner_type' in cfg:
            runner = RUNNERS.build(cfg)
        else:
            runner = (Runner if torch.cuda.is_available() else CPURunner).from_cfg(cfg)
    if runner.distributed and not torch.cuda.is_available():
        runner.register_hook(SyncBuffersEveryIterHook())
    return runner


def log_model_summary(runner: Runner) -> None:
    """One line naming what was built, so a run that stops on data still shows it."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    params = sum(p.numel() for p in model.parameters())
    parts = [type(model).__name__]
    backbone = getattr(model, 'backbone', None)
    if backbone is not None:
        parts.append(f'backbone {type(backbone).__name__}')
    for head_name in ('decode_head', 'bbox_head', 'roi_head', 'head'):
        head = getattr(model, head_name, None)
        classes = getattr(head, 'num_classes', None)
        if classes is None and head is not None:
            classes = getattr(getattr(head, 'bbox_head', None), 'num_classes', None)
        if classes is not None:
            parts.append(f'{classes} classes')
            break
    print_log(f'model built: {", ".join(parts)}, {params / 1e6:.2f}M parameters',
              logger='current', level=logging.INFO)


def default_work_dir(config_path: str, work_dir: Optional[str]) -> str:
    """``--work-dir`` if given, else ``./work_dirs/<config name>`` (mmseg/mmdet convention)."""
    return work_dir or osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def set_local_rank(local_rank: int) -> None:
    """torch.distributed.launch passes ``--local-rank``; torchrun sets LOCAL_RANK."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


def allow_project_imports() -> None:
    """Put the working directory on the import path, so that a config's
    ``custom_imports`` of ``projects.<name>.<module>`` works when a tool is run
    from the repository root (Python puts ``tools/``, not the cwd, there)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _leaf_datasets_of(cfg: Config, loaders: Sequence[str]):
    """(config key, dataset config) of every file-reading dataset of ``loaders``."""
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
        cfg: The full config.
        loaders: Dataloader keys, e.g. ``['train_dataloader', 'val_dataloader']``.
    """
    for _, dataset_cfg in _leaf_datasets_of(cfg, loaders):
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
        cfg: The full config; its default scope must be set.
        loaders: Dataloader keys to check.
        num_samples: Samples decoded per dataset.

    Returns:
        The warnings (already logged).

    Raises:
        PreflightError: listing every error, each naming its file or key.
    """
    errors, warnings, seen = [], [], set()
    for key, dataset_cfg in _leaf_datasets_of(cfg, loaders):
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
