"""``torch.compile`` for testing, which mmengine's ``compile`` option does not cover."""
from typing import Union

import torch
from mmengine.model import BaseTTAModel, is_model_wrapper


def compile_for_testing(model: torch.nn.Module, compile_cfg: Union[bool, dict] = True
                        ) -> torch.nn.Module:
    """Compile the forward that the test and validation steps call.

    mmengine's ``compile=True`` compiles ``train_step`` only. Its
    ``test_step`` preprocesses the batch and then calls the model, so
    compiling the model's call (:meth:`torch.nn.Module.compile`, in place)
    covers prediction and leaves the data preprocessor eager. A DDP wrapper
    or a test-time-augmentation model is looked through to the model it
    runs.

    Args:
        model (torch.nn.Module): The runner's model.
        compile_cfg (bool | dict): ``True`` or ``torch.compile`` keyword
            arguments (as in mmengine's ``compile`` option).

    Returns:
        torch.nn.Module: The module that was compiled.
    """
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    model.compile(**({} if compile_cfg is True else dict(compile_cfg)))
    return model
