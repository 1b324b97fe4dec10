"""Constructor arguments that every mmfreq backbone reads the same way.

The conventions are those of the host toolboxes' backbones (mmdet's Swin,
mmseg's ViT, mmpretrain's ResNet), so an mmfreq backbone can replace one in a
config without re-reading its arguments:

* ``arch``: a name from the backbone's ``arch_zoo`` (unknown names raise
  ValueError listing the valid ones).
* ``out_indices``: an int or a sequence of stage indices; negative indices
  count from the end (-1 is the last stage). Anything else raises
  ValueError naming the valid range.
* ``frozen_stages``: -1 freezes nothing, 0 the stem (the first patch
  embedding), k the stem and the first k stages.
* ``pretrained``: a checkpoint path or URL, the old spelling of
  ``init_cfg=dict(type='Pretrained', checkpoint=...)`` that mmdet's Swin and
  mmseg's ViT still take (and mmseg's ``EncoderDecoder(pretrained=...)``
  hands to its backbone).
"""
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import torch.nn as nn


def arch_from_zoo(arch: str, arch_zoo: Dict[str, dict], owner: str) -> dict:
    """The settings of the named arch (case-insensitive).

    Raises:
        ValueError: naming ``arch`` and every valid name.
    """
    name = str(arch).lower()
    if name not in arch_zoo:
        raise ValueError(f'{owner}: unknown arch {arch!r}; valid archs: '
                         f'{", ".join(sorted(arch_zoo))} (or a dict of settings)')
    return arch_zoo[name]


def stage_indices(out_indices: Union[int, Sequence[int]], num_stages: int,
                  owner: str) -> Tuple[int, ...]:
    """``out_indices`` (an int or a sequence, negatives from the end) as indices 0..n-1.

    Raises:
        ValueError: an index outside ``-num_stages..num_stages-1``, naming that range.
    """
    indices = (out_indices, ) if isinstance(out_indices, int) else tuple(out_indices)
    bad = [i for i in indices if not isinstance(i, int) or not -num_stages <= i < num_stages]
    if bad or not indices:
        raise ValueError(f'{owner}: out_indices={out_indices!r} is not valid: give stage '
                         f'indices in {-num_stages}..{num_stages - 1} (this model has '
                         f'{num_stages} stages; negative ones count from the end)')
    return tuple(i % num_stages for i in indices)


def check_frozen_stages(frozen_stages: int, num_stages: int, owner: str) -> int:
    """``frozen_stages`` if it is in -1..num_stages.

    Raises:
        ValueError: naming the value and the valid range.
    """
    if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= num_stages:
        raise ValueError(f'{owner}: frozen_stages={frozen_stages!r} is not valid: -1 freezes '
                         f'nothing, 0 the stem, k the stem and the first k stages '
                         f'(k <= {num_stages})')
    return frozen_stages


def freeze(modules: Iterable[nn.Module]) -> None:
    """Eval mode and no gradients for each module."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False


def init_cfg_with_pretrained(pretrained: Optional[str], init_cfg: Optional[dict],
                             owner: str) -> Optional[dict]:
    """``init_cfg``, or the Pretrained init_cfg that ``pretrained`` stands for.

    Raises:
        ValueError: both are given, or ``pretrained`` is not a string.
    """
    if pretrained is None:
        return init_cfg
    if not isinstance(pretrained, str):
        raise ValueError(f'{owner}: pretrained={pretrained!r} must be a checkpoint path or URL')
    if init_cfg is not None:
        raise ValueError(f'{owner}: give either pretrained={pretrained!r} or init_cfg='
                         f'{init_cfg}, not both')
    return dict(type='Pretrained', checkpoint=pretrained)
