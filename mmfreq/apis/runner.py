"""Build what a config describes: its runner (to train or test), its model or
one of its data loaders."""
import copy
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, RUNNERS, init_default_scope
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmfreq.engine.cpu import CPURunner, SyncBuffersEveryIterHook
from mmfreq.utils.collect_env import explain_missing_ops


def build_runner(cfg: Config) -> Runner:
    """The runner (and with it the model) of a full config (``work_dir`` and
    ``launcher`` set): a :class:`~mmfreq.engine.cpu.CPURunner` without CUDA, with
    :class:`~mmfreq.engine.cpu.SyncBuffersEveryIterHook` when distributed; a
    config's own ``runner_type`` is built as it is. An mmcv without compiled ops
    is named as the cause of the registry error it leads to.
    """
    with explain_missing_ops():
        if 'runner_type' in cfg:
            runner = RUNNERS.build(cfg)
        else:
            runner = (Runner if torch.cuda.is_available() else CPURunner).from_cfg(cfg)
    if runner.distributed and not torch.cuda.is_available():
        runner.register_hook(SyncBuffersEveryIterHook())
    return runner


def build_model_from_config(config: Union[str, Config]) -> torch.nn.Module:
    """The model of an mmfreq / mmdet / mmseg / mmpretrain config (a path or a
    read ``Config``, as mmseg's ``init_model`` takes), in eval mode, with BN for
    SyncBN on CPU and without loading pretrained weights.

    Raises:
        ValueError: The config has no ``default_scope`` (its toolbox would be a guess).
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if not cfg.get('default_scope'):
        raise ValueError(f'{cfg.filename} has no default_scope: inherit a runtime base of mmdet, '
                         "mmseg or mmpretrain, or set e.g. default_scope = 'mmseg'")
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    if not torch.cuda.is_available():
        model = revert_sync_batchnorm(model)  # SyncBN's forward needs CUDA
    return model.eval()


def build_dataloader_from_config(cfg: Config, key: str, batch_size: Optional[int] = None,
                                 num_workers: Optional[int] = None,
                                 seed: Optional[int] = None) -> DataLoader:
    """The data loader ``cfg[key]`` (e.g. ``'test_dataloader'``) as the Runner
    builds it, in the config's default scope; ``batch_size`` and ``num_workers``
    replace the config's where given, ``seed`` seeds its sampler and workers."""
    loader_cfg = copy.deepcopy(cfg[key])
    if batch_size is not None:
        loader_cfg.batch_size = batch_size
    if num_workers is not None:
        loader_cfg.num_workers = num_workers
    if loader_cfg.get('num_workers', 0) == 0:
        loader_cfg.persistent_workers = False  # torch refuses it without workers
    init_default_scope(cfg.default_scope)
    return Runner.build_dataloader(loader_cfg, seed=seed)
