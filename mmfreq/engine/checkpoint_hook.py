"""Strict loading of the checkpoint ``tools/test.py`` tests."""
import os.path as osp
import pickle
import re
from typing import Dict, List

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import Runner


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read, or does not fit the model."""


def state_dict_mismatch(model: torch.nn.Module, state_dict: Dict[str, object]) -> List[str]:
    """What differs between ``model``'s keys and a checkpoint's: missing keys,
    unexpected keys and shape mismatches, one phrase each (empty when they fit).
    A ``module.`` prefix (a DDP-wrapped save) is ignored, as mmengine does.

    Args:
        model: The model to load into.
        state_dict: The checkpoint's state dict.
    """
    own = model.state_dict()
    theirs = {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}
    missing = [k for k in own if k not in theirs and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in theirs if k not in own]
    shapes = [f'{k} {tuple(theirs[k].shape)} in the file, {tuple(own[k].shape)} in the model'
              for k in own if k in theirs and hasattr(theirs[k], 'shape')
              and tuple(theirs[k].shape) != tuple(own[k].shape)]
    problems = []
    for what, keys in (('missing keys', missing), ('unexpected keys', unexpected),
                       ('shape mismatches', shapes)):
        if keys:
            more = ', ...' if len(keys) > 10 else ''
            problems.append(f'{len(keys)} {what}: {", ".join(keys[:10])}{more}')
    return problems


class CheckpointLoadHook(Hook):
    """Load the checkpoint to test, refusing one that does not fit the model.

    It loads at the end of ``before_run`` (lowest priority), which is where
    mmengine's own ``load_from`` would load it, after hooks such as EMA set
    themselves up.

    Args:
        filename: The checkpoint.
        strict: Raise when keys are missing, unexpected or of another shape;
            otherwise load the matching ones (mmengine logs the rest).
    """

    priority = 'LOWEST'

    def __init__(self, filename: str, strict: bool = True) -> None:
        self.filename = filename
        self.strict = strict

    def before_run(self, runner: Runner) -> None:
        try:
            checkpoint = runner.load_checkpoint(self.filename, map_location='cpu')
        except (EOFError, RuntimeError, pickle.UnpicklingError) as err:
            reason = str(err) or 'the file ends early'
            raise CheckpointError(f'cannot load checkpoint {self.filename} '
                                  f'({osp.getsize(self.filename)} bytes): '
                                  f'{type(err).__name__}: {reason}') from err
        model = runner.model
        # mmengine loads into what DDP and a test-time-augmentation model wrap
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        state_dict = checkpoint.get('state_dict', checkpoint)
        problems = state_dict_mismatch(model, state_dict)
        if problems and self.strict:
            raise CheckpointError(
                f'checkpoint {self.filename} does not fit the model '
                f'{type(model).__name__}: {"; ".join(problems)}. Is it a checkpoint of '
                'another config? Pass --non-strict to load the matching keys anyway')
