"""What a tool does around launching a run: the rank torch's launcher passes,
project imports from the working directory, and the line naming the model."""
import logging
import os
import sys

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner


def set_local_rank(local_rank: int) -> None:
    """Export ``--local-rank`` (torch.distributed.launch) as ``LOCAL_RANK``
    unless torchrun set it already."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


def allow_project_imports() -> None:
    """Put the working directory on the import path, where a config's
    ``custom_imports`` find ``projects.<name>.<module>`` (``python tools/x.py``
    puts ``tools/`` there instead). The tools call it; the library never does."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def log_model_summary(runner: Runner) -> None:
    """Log one line naming the model ``runner`` built, so a run that stops on
    data still shows it."""
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
