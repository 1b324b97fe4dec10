"""Strict loading of the checkpoint ``tools/test.py`` tests and ``tools/train.py``
fine-tunes from (``load_from``), in any layout :mod:`mmfreq.utils.model_weights` reads."""
import os.path as osp
import pickle

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import Runner

from mmfreq.utils.model_weights import (
    ModelCheckpointMismatch,
    load_model_weights,
    state_dict_mismatch,
)

__all__ = ['CheckpointError', 'CheckpointLoadHook', 'state_dict_mismatch']


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read, or does not fit the model."""


class CheckpointLoadHook(Hook):
    """Load a checkpoint once, converted from its layout, refusing one that does not fit.

    In place of mmengine's ``load_from``, which loads whatever keys match and
    lists the rest. For testing it loads at the end of ``before_run``
    (lowest priority), where mmengine's own ``load_from`` would, after hooks
    such as EMA set themselves up; for training at ``before_train``, after
    the model's own initialisation (``init_cfg``), which would otherwise
    overwrite the trained weights. Hooks then see the converted checkpoint in
    ``after_load_checkpoint``, as after mmengine's load.

    Args:
        filename (str): The checkpoint (path or URL).
        strict (bool): Raise when keys are missing, unexpected or of another
            shape; otherwise load the matching ones and log the rest.
        training (bool): Load at ``before_train`` (fine-tuning) instead of
            ``before_run`` (testing).
    """

    priority = 'LOWEST'

    def __init__(self, filename: str, strict: bool = True, training: bool = False) -> None:
        self.filename = filename
        self.strict = strict
        self.training = training

    def before_run(self, runner: Runner) -> None:
        if not self.training:
            self.load(runner)

    def before_train(self, runner: Runner) -> None:
        if self.training:
            self.load(runner)

    def load(self, runner: Runner) -> None:
        """Read, convert, check and load the checkpoint into the runner's model.

        Raises:
            CheckpointError: naming the file: it cannot be read, or it does
                not fit (strict), with the layout it was read as and its keys.
        """
        model = runner.model
        # mmengine loads into what DDP and a test-time-augmentation model wrap
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        try:
            checkpoint = load_model_weights(model, self.filename, self.strict)
        except ModelCheckpointMismatch as err:
            raise CheckpointError(f'{err} Pass --non-strict to load the matching keys '
                                  'anyway') from err
        except (ValueError, OSError, pickle.UnpicklingError) as err:  # unreadable, absent
            cause = err.__cause__ or err
            size = f' ({osp.getsize(self.filename)} bytes)' if osp.isfile(self.filename) else ''
            raise CheckpointError(f'cannot load checkpoint {self.filename}{size}: '
                                  f'{type(cause).__name__}: {cause or "the file ends early"}'
                                  ) from err
        runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)
