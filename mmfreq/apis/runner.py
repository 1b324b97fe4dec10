"""What ``tools/train.py`` and ``tools/test.py`` share: config fixes for the
device at hand, dataset checks with actionable errors, and runner building."""
import logging
import os
import os.path as osp
import sys
from typing import Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import MODELS, RUNNERS, init_default_scope
from mmengine.runner import Runner

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


def _dataset_cfgs(cfg: ConfigDict, key: str) -> Iterator[Tuple[str, ConfigDict]]:
    """Yield (config key, dataset config) for a dataset and any it wraps."""
    yield key, cfg
    if isinstance(cfg.get('dataset'), dict):  # RepeatDataset, ClassBalancedDataset
        yield from _dataset_cfgs(cfg.dataset, f'{key}.dataset')
    for i, sub in enumerate(cfg.get('datasets') or []):  # ConcatDataset
        yield from _dataset_cfgs(sub, f'{key}.datasets.{i}')


def check_dataset_paths(cfg: Config, loaders: List[str]) -> None:
    """Raise :class:`DatasetNotFoundError` naming the first missing folder or file.

    Args:
        cfg: The full config.
        loaders: Dataloader keys to check, e.g. ``['train_dataloader']``.
    """
    for loader in loaders:
        if not cfg.get(loader):
            continue
        for key, dataset in _dataset_cfgs(cfg[loader].dataset, f'{loader}.dataset'):
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


def replace_sync_bn(node: object) -> None:
    """SyncBN needs CUDA; on CPU the same config trains with plain BN."""
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
        for value in node.values():
            replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            replace_sync_bn(value)


def adapt_to_device(cfg: Config, launcher: str) -> None:
    """Make a GPU-minded config run on a machine without CUDA.

    SyncBN becomes BN; a distributed launch uses the gloo backend and DDP
    without device ids (mmengine assumes one CUDA device per process).
    """
    if torch.cuda.is_available():
        return
    replace_sync_bn(cfg._cfg_dict)
    if launcher != 'none':
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
    mode, with BN for SyncBN on CPU and without loading pretrained weights."""
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if not torch.cuda.is_available():
        replace_sync_bn(cfg._cfg_dict)
    return MODELS.build(cfg.model).eval()


def build_runner(cfg: Config) -> Runner:
    """Build the runner (and with it the model).

    Without mmcv's compiled ops, mmdet's model modules fail to import and
    mmengine only warns, so the build later fails with a bare "not in the
    registry" error. Any build failure is therefore checked against the ops,
    and reported as :class:`MMCVOpsMissingError` with its fix when they are
    what is missing.
    """
    try:
        if 'runner_type' in cfg:
            return RUNNERS.build(cfg)
        return Runner.from_cfg(cfg)
    except Exception as err:
        problem = mmcv_ops_problem()
        if problem is not None:
            raise MMCVOpsMissingError(problem) from err
        raise


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
