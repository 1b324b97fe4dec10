"""Constructor arguments that every mmfreq backbone reads the same way, as the
host toolboxes' backbones do (mmdet's Swin, mmseg's ViT and MiT, mmpretrain's
ResNet). A bad one raises a :class:`~mmfreq.errors.UserError` that is also the
built-in error mmseg raises for it, so code written against mmseg catches it.
"""
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import torch.nn as nn

from mmfreq.errors import UserError


class InvalidArgumentError(ValueError, AssertionError, UserError):
    """A constructor argument of a valid type but a value the model cannot take."""


class ArgumentTypeError(TypeError, ValueError, UserError):
    """A constructor argument of a type the model cannot take."""


def arch_from_zoo(arch: str, arch_zoo: Dict[str, dict], owner: str) -> dict:
    """The settings of the named arch (case-insensitive), or an error naming the valid ones."""
    name = str(arch).lower()
    if name not in arch_zoo:
        raise InvalidArgumentError(f'{owner}: unknown arch {arch!r}; valid archs: '
                                   f'{", ".join(sorted(arch_zoo))} (or a dict of settings)')
    return arch_zoo[name]


def stage_indices(out_indices: Union[int, Sequence[int]], num_stages: int,
                  owner: str) -> Tuple[int, ...]:
    """``out_indices`` (an int or a sequence, negatives from the end) as indices 0..n-1."""
    indices = (out_indices, ) if isinstance(out_indices, int) else out_indices
    if not isinstance(indices, Sequence) or not all(isinstance(i, int) for i in indices):
        raise ArgumentTypeError(f'{owner}: out_indices={out_indices!r} must be an int or a '
                                'sequence of ints (stage indices)')
    indices = tuple(indices)
    if not indices or not all(-num_stages <= i < num_stages for i in indices):
        raise InvalidArgumentError(
            f'{owner}: out_indices={out_indices!r} is not valid: give stage indices in '
            f'{-num_stages}..{num_stages - 1} (this model has {num_stages} stages; negative '
            'ones count from the end)')
    return tuple(i % num_stages for i in indices)


def check_frozen_stages(frozen_stages: int, num_stages: int, owner: str) -> int:
    """``frozen_stages`` (-1: nothing, 0: the stem, k: the stem and k stages) if valid."""
    if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= num_stages:
        raise InvalidArgumentError(
            f'{owner}: frozen_stages={frozen_stages!r} is not valid: -1 freezes nothing, 0 the '
            f'stem, k the stem and the first k stages (k <= {num_stages})')
    return frozen_stages


def freeze(modules: Iterable[nn.Module]) -> None:
    """Eval mode and no gradients for each module."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False


def init_cfg_with_pretrained(pretrained: Optional[str], init_cfg: Optional[dict],
                             owner: str) -> Optional[dict]:
    """``init_cfg``, or the Pretrained init_cfg that ``pretrained`` (a path or URL,
    the old spelling that mmdet's Swin and mmseg's ViT still take) stands for."""
    if pretrained is None:
        return init_cfg
    if init_cfg is not None:
        raise InvalidArgumentError(f'{owner}: give either pretrained={pretrained!r} or '
                                   f'init_cfg={init_cfg}, not both')
    if not isinstance(pretrained, str):
        raise ArgumentTypeError(f'{owner}: pretrained={pretrained!r} must be a checkpoint '
                                'path or URL')
    return dict(type='Pretrained', checkpoint=pretrained)


def image_size(img_size: Union[int, Sequence[int]], owner: str) -> Tuple[int, int]:
    """(height, width) from an int, a 1-tuple (both sides, as mmseg) or a pair."""
    if isinstance(img_size, int):
        return img_size, img_size
    if not isinstance(img_size, Sequence) or not all(isinstance(s, int) for s in img_size):
        raise ArgumentTypeError(f'{owner}: img_size={img_size!r} must be an int or '
                                '(height, width)')
    if len(img_size) not in (1, 2):
        raise InvalidArgumentError(f'{owner}: img_size={img_size!r} must be an int or '
                                   '(height, width)')
    return img_size[0], img_size[-1]
