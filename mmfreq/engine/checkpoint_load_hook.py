"""The hook that loads a trained checkpoint strictly, for testing and fine-tuning."""
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import Runner

from mmfreq.utils.weights import CheckpointError, load_model_weights

__all__ = ['CheckpointLoadHook']


class CheckpointLoadHook(Hook):
    """Load a checkpoint once, converted from its layout, refusing one that
    does not fit: in place of mmengine's ``load_from``, which loads whatever
    keys match. Hooks then see the converted checkpoint in
    ``after_load_checkpoint``.

    Args:
        filename (str): The checkpoint (path or URL).
        strict (bool): Refuse missing, unexpected or reshaped keys; otherwise
            load the matching ones and log the rest.
        training (bool): Load at ``before_train``, after ``init_cfg``
            (fine-tuning), not at the end of ``before_run`` (testing).
    """

    priority = 'LOWEST'

    def __init__(self, filename: str, strict: bool = True, training: bool = False) -> None:
        self.filename = filename
        self.strict = strict
        self.training = training

    def before_run(self, runner: Runner) -> None:
        # last (lowest priority), after hooks such as EMA set themselves up,
        # where mmengine's load_from loads
        if not self.training:
            self.load(runner)

    def before_train(self, runner: Runner) -> None:
        # after the model's init_cfg, which would overwrite the trained weights
        if self.training:
            self.load(runner)

    def load(self, runner: Runner) -> None:
        """Read, convert, check and load the checkpoint into the runner's model,
        or raise a :class:`CheckpointError` naming the file."""
        model = runner.model
        # mmengine loads into what DDP and a test-time-augmentation model wrap
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        try:
            checkpoint = load_model_weights(model, self.filename, self.strict)
        except CheckpointError as err:
            if not err.layout:  # unreadable: no switch would help
                raise
            raise err.reworded(f'{err} Pass --non-strict to load the matching keys '
                               'anyway') from err
        runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)
