"""A seconds-long mmengine training run on a tiny regression model, for the
in-process tests of checkpoints, resuming and preemption."""
import itertools
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmfreq.engine.atomic_checkpoint_hook import ATOMIC_CHECKPOINT_HOOK

_names = itertools.count()


class ToyRegressor(BaseModel):
    """Two linear layers fitting a fixed target.

    Args:
        width (int): Hidden channels (another width: another state dict).
    """

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(3, width)
        self.head = nn.Linear(width, 1)

    def forward(self, inputs: torch.Tensor, targets: Optional[torch.Tensor] = None,
                mode: str = 'tensor') -> object:
        out = self.head(torch.relu(self.linear(inputs))).squeeze(1)
        if mode == 'loss':
            return {'loss': F.mse_loss(out, targets)}
        return out


class ToyData(Dataset):
    """16 fixed samples (inputs (3,), target ()), the same in every process."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(16, 3, generator=generator)
        self.targets = self.inputs.sum(1) + 0.1 * torch.randn(16, generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.inputs[index], targets=self.targets[index])


def toy_runner(work_dir: Path, max_iters: int = 6, interval: int = 2, width: int = 4,
               hooks: Sequence[Hook] = (), resume: bool = False,
               load_from: Optional[str] = None, max_keep_ckpts: int = -1,
               paramwise_cfg: Optional[dict] = None,
               param_scheduler: Optional[list] = None) -> Runner:
    """An iteration-based run of :class:`ToyRegressor` (initialised from seed
    0, SGD with momentum, a linear warm-up then a poly decay, batches of 4 in
    a fixed order)
    saving through mmfreq's checkpoint hook every ``interval`` iterations.

    Args:
        work_dir (Path): Its work directory.
        max_iters (int): Training iterations.
        interval (int): Checkpoint interval.
        width (int): The model's hidden width.
        hooks (Sequence[Hook]): Custom hooks.
        resume (bool), load_from (str, optional): As mmengine's Runner takes them.
        max_keep_ckpts (int): As mmengine's CheckpointHook takes it.
        paramwise_cfg (dict, optional): Of the optimizer wrapper.
        param_scheduler (list, optional): Instead of the warm-up and decay.

    Returns:
        Runner: Not yet trained. Its ``cfg`` records the model's width and
        the optimizer, as a config-built runner's would.
    """
    optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    if paramwise_cfg is not None:
        optim_wrapper['paramwise_cfg'] = paramwise_cfg
    if param_scheduler is None:
        param_scheduler = [
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
            dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=3, end=max_iters)]
    with torch.random.fork_rng():  # the same initial weights in every run, whatever ran before
        torch.manual_seed(0)
        model = ToyRegressor(width)
    return Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'toy_{next(_names)}',
        train_dataloader=DataLoader(ToyData(), batch_size=4, shuffle=False),
        optim_wrapper=optim_wrapper,
        param_scheduler=param_scheduler,
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type=ATOMIC_CHECKPOINT_HOOK, interval=interval, by_epoch=False,
                            max_keep_ckpts=max_keep_ckpts)),
        custom_hooks=list(hooks),
        resume=resume,
        load_from=load_from,
        randomness=dict(seed=0),
        default_scope='mmengine',
        cfg=dict(model=dict(type='ToyRegressor', width=width), optim_wrapper=optim_wrapper,
                 param_scheduler=param_scheduler))
