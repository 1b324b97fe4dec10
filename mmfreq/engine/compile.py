"""``torch.compile`` of a model's networks, for training and testing."""
from typing import Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper

#: The parts of an mmseg segmentor / mmdet detector / mmpretrain classifier
#: that are pure tensor functions of the batch, called as modules in every mode.
FEATURE_EXTRACTOR = ('backbone', 'neck')


def compile_model(model: torch.nn.Module, compile_cfg: Union[bool, dict] = True
                  ) -> torch.nn.Module:
    """Compile, in place, the backbone and neck of a model that has a backbone
    (else the whole model), looking through DDP and TTA wrappers, and return it.
    ``compile_cfg`` is True or ``torch.compile`` keyword arguments. Why not
    mmengine's ``compile=True``: ``--compile`` in docs/training.md."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    kwargs = {} if compile_cfg is True else dict(compile_cfg)
    names = [name for name in FEATURE_EXTRACTOR
             if isinstance(getattr(model, name, None), torch.nn.Module)]
    for part in [getattr(model, name) for name in names] or [model]:
        part.compile(**kwargs)
    print_log(f"torch.compile({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) of "
              f"{type(model).__name__}: {', '.join(names) or 'the whole model'}",
              logger='current')
    return model
