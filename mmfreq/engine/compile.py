"""``torch.compile`` of a model's networks, for training and testing."""
from typing import Union

import torch
from mmengine.model import BaseTTAModel, is_model_wrapper

#: The parts of an mmseg segmentor / mmdet detector / mmpretrain classifier
#: that are pure tensor functions of the batch, called as modules in every mode.
FEATURE_EXTRACTOR = ('backbone', 'neck')


def compile_model(model: torch.nn.Module, compile_cfg: Union[bool, dict] = True
                  ) -> torch.nn.Module:
    """Compile, in place, what mmengine's train, val and test steps run.

    A model with a ``backbone`` gets its feature extractor compiled (the
    backbone, and the neck where it has one, by
    :meth:`torch.nn.Module.compile`), in training and in testing alike; any
    other model is compiled whole. The heads' loss and prediction read each
    image's size from its metadata as Python numbers, so a compiled segmentor
    forward is specialised to every image size: a validation set of many image
    sizes would recompile the whole model for each new one. mmengine's own
    ``compile=True`` compiles the whole
    ``train_step`` instead: its optimizer step reads the learning rate as a
    Python number, so every scheduler change recompiles, and only training
    is covered. A DDP wrapper or a test-time-augmentation model is looked
    through to the model it runs.

    Args:
        model (torch.nn.Module): The runner's model.
        compile_cfg (bool | dict): ``True`` or ``torch.compile`` keyword
            arguments (as in mmengine's ``compile`` option).

    Returns:
        torch.nn.Module: The model whose parts were compiled.
    """
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    kwargs = {} if compile_cfg is True else dict(compile_cfg)
    parts = [getattr(model, name) for name in FEATURE_EXTRACTOR
             if isinstance(getattr(model, name, None), torch.nn.Module)]
    for part in parts or [model]:
        part.compile(**kwargs)
    return model
