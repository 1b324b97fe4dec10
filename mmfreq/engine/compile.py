"""``torch.compile`` of the model's forward, for training and testing."""
from typing import Union

import torch
from mmengine.model import BaseTTAModel, is_model_wrapper


def compile_forward(model: torch.nn.Module, compile_cfg: Union[bool, dict] = True
                    ) -> torch.nn.Module:
    """Compile the forward that mmengine's train, val and test steps call.

    Each step preprocesses the batch and then calls the model (``mode='loss'``
    or ``'predict'``), so compiling the model's call
    (:meth:`torch.nn.Module.compile`, in place) covers the loss and its
    backward, and prediction, while the data preprocessor and the optimizer
    step stay eager. mmengine's own ``compile=True`` compiles the whole
    ``train_step`` instead: its optimizer step reads the learning rate as a
    Python number, so every scheduler change recompiles, and only training
    is covered. A DDP wrapper or a test-time-augmentation model is looked
    through to the model it runs.

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
