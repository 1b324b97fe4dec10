"""Trained whole models (segmentors, detectors) from the checkpoints their authors released.

A whole-model checkpoint keeps each part of the model under its attribute
name: ``backbone.``, ``neck.``, ``decode_head.``, ``auxiliary_head.`` (mmdet:
``rpn_head.``, ``roi_head.``, ``bbox_head.``). Each part is recognised on its
own from its keys and converted in memory with the part's
:class:`~mmfreq.utils.weights.WeightFormat` s: the backbone's own formats
(``weight_formats()`` of every mmfreq backbone: official, mmpretrain, timm,
mmfreq namings), the FDAM neck's below, and the host toolbox's heads and
necks as they are. Then the whole converted state dict must fit the model
exactly, or nothing is loaded: a file of another size, another head or
another class count is an error naming the file, the layout it was taken for
and the first keys that do not fit.

mmseg 0.x and 1.x name the parameters of ``UPerHead`` (``psp_modules``,
``bottleneck``, ``lateral_convs``, ``fpn_convs``, ``fpn_bottleneck``),
``FPNHead`` (``scale_heads``), ``FCNHead`` (``convs``), the ``FPN`` neck
(``lateral_convs``, ``fpn_convs``) and ``conv_seg`` alike, so their keys pass
unchanged; what differs is the meta: 0.x files carry ``meta['CLASSES']`` and
``meta['PALETTE']``, 1.x files ``meta['dataset_meta']``
(:func:`dataset_meta_of` reads both).
"""
import os.path as osp
import re
from fnmatch import fnmatch
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.logging import MMLogger

from .atomic_save import save_checkpoint_atomically
from .weights import (
    StateDict,
    WeightFormat,
    diff_keys,
    read_checkpoint,
    show_short,
    state_dict_of,
)


def convert_simple_multilevel_neck(state: StateDict) -> StateDict:
    """Official FDAM ``SimpleMultiLevelNeck`` (``fpn1``..``fpn4``) onto :class:`FDAMNeck`.

    ``fpn1`` (deconv, BN, GELU, deconv) is ``resamplers.0`` with the same
    inner indices; ``fpn2`` wraps its one deconv in a Sequential that
    ``resamplers.1`` does not have; ``fpn3`` / ``fpn4`` hold no parameters.
    """
    converted = {}
    for key, value in state.items():
        key = re.sub(r'^fpn2\.0\.', 'resamplers.1.', key)
        converted[re.sub(r'^fpn1\.', 'resamplers.0.', key)] = value
    return converted


FDAM_NECK_FORMATS = (
    WeightFormat('mmfreq FDAMNeck', markers=('resamplers.*', )),
    WeightFormat('official SimpleMultiLevelNeck (Linwei-Chen/FDAM, FDAM_mmseg)',
                 markers=('fpn1.0.weight', ), convert=convert_simple_multilevel_neck),
)

# Parts of mmfreq's whose weight names are not their own module's business
# (the neck is a plain pyramid; the backbones list theirs in weight_formats()).
PART_FORMATS: Dict[str, Sequence[WeightFormat]] = {'FDAMNeck': FDAM_NECK_FORMATS}

# How the released trained models are laid out, for the log and the errors:
# the parts decide the conversion, these only name the whole.
MODEL_LAYOUTS = (
    WeightFormat('official VAN-Segmentation release (mmseg 0.x; '
                 'Visual-Attention-Network/VAN-Segmentation)',
                 markers=('backbone.block1.0.mlp.dwconv.dwconv.weight', )),
    WeightFormat("mmseg 1.x projects/van (VAN on mmseg's MSCAN blocks)",
                 markers=('backbone.block1.0.attn.spatial_gating_unit.conv0.weight',
                          'backbone.block1.0.mlp.dwconv.weight')),
    WeightFormat('official FDAM release (mmseg 0.25; Linwei-Chen/FDAM FDAM_mmseg)',
                 markers=('backbone.blocks.0.freq_scale_1.*', 'neck.fpn1.0.weight')),
)


def part_formats(module: nn.Module) -> Sequence[WeightFormat]:
    """The namings a part of a model is read in: its own ``weight_formats()``,
    mmfreq's table for its class, else its names as they are."""
    if callable(getattr(module, 'weight_formats', None)):
        return module.weight_formats()
    return PART_FORMATS.get(type(module).__name__,
                            (WeightFormat(f'{type(module).__name__} names', markers=()), ))


def convert_model_state(model: nn.Module, state: StateDict) -> Tuple[StateDict, str, List[str]]:
    """Convert a whole-model state dict, part by part, to ``model``'s names.

    A part whose keys are in none of its formats, or that ``model`` does not
    have, is passed through unchanged, so that the strict check names its
    keys.

    Args:
        model (nn.Module): The segmentor / detector to load into.
        state (dict): The checkpoint's tensors.

    Returns:
        ``(converted state, the layout it was read as, keys dropped)``; the
        dropped keys are those a part's format says are not part of it (a
        classifier left in a backbone).
    """
    parts: Dict[str, StateDict] = {}
    converted: StateDict = {}
    for key, value in state.items():
        part, dot, rest = key.partition('.')
        if dot:
            parts.setdefault(part, {})[rest] = value
        else:  # a tensor of the model itself
            converted[key] = value
    read_as, dropped = [], []
    for part, part_state in parts.items():
        module = getattr(model, part, None)
        fmt = None
        if isinstance(module, nn.Module):
            fmt = next((f for f in part_formats(module) if f.recognises(list(part_state))), None)
        if fmt is None:
            if isinstance(module, nn.Module):
                read_as.append(f'{part}: keys of no known {type(module).__name__} format')
            converted.update((f'{part}.{k}', v) for k, v in part_state.items())
            continue
        for key, value in fmt.convert(part_state).items():
            if any(fnmatch(key, pattern) for pattern in fmt.may_be_dropped):
                dropped.append(f'{part}.{key}')
            else:
                converted[f'{part}.{key}'] = value
        if fmt.markers:  # parts read as they are need no mention
            read_as.append(f'{part}: {fmt.name}')
    layout = next((f.name for f in MODEL_LAYOUTS if f.recognises(list(state))), 'mmfreq names')
    return converted, layout + (f', parts read as {"; ".join(read_as)}' if read_as else ''), dropped


def state_dict_mismatch(model: nn.Module, state_dict: Dict[str, object],
                        limit: int = 10) -> List[str]:
    """What keeps a checkpoint's state dict from fitting ``model``: missing keys,
    unexpected keys and shape mismatches, one phrase each with the first
    ``limit`` keys (empty when it fits). A ``module.`` prefix (a DDP-wrapped
    save) is ignored, as mmengine does, and so are BatchNorm counters a file
    lacks (older files have none).

    Args:
        model (nn.Module): The model to load into.
        state_dict (dict): The checkpoint's state dict.
        limit (int): Keys named per phrase.
    """
    diff = diff_keys(model.state_dict(),
                     {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()})
    shapes = [f'{k} {file_shape} in the file, {model_shape} in the model'
              for k, file_shape, model_shape in diff.other_shapes]
    missing = [k for k in diff.missing if not k.endswith('num_batches_tracked')]
    problems = []
    for what, keys in (('missing keys', missing), ('unexpected keys', diff.unexpected),
                       ('shape mismatches', shapes)):
        if keys:
            more = ', ...' if len(keys) > limit else ''
            problems.append(f'{len(keys)} {what}: {", ".join(keys[:limit])}{more}')
    return problems


class ModelCheckpointMismatch(ValueError):
    """A whole-model checkpoint does not fit the model it is loaded into."""


def fit_model_state(model: nn.Module, checkpoint: dict, source: str,
                    strict: bool = True) -> Tuple[StateDict, str, List[str]]:
    """The state dict of ``checkpoint`` in ``model``'s names, checked against it.

    Args:
        model (nn.Module): The model (unwrapped from DDP / TTA).
        checkpoint (dict): The checkpoint as read (``state_dict``, ``meta``).
        source (str): The file, for messages.
        strict (bool): Raise when anything does not fit; otherwise return
            what does and let the caller load it.

    Returns:
        ``(state to load, layout read as, phrases of what did not fit)``.

    Raises:
        ModelCheckpointMismatch: naming ``source``, the layout and the first
            keys of each kind that do not fit (``strict`` only).
    """
    state, layout, dropped = convert_model_state(model, state_dict_of(checkpoint))
    problems = state_dict_mismatch(model, state)
    if problems and strict:
        raise ModelCheckpointMismatch(
            f'checkpoint {source} does not fit the model {type(model).__name__} (read as '
            f'{layout}): {"; ".join(problems)}. Is it a checkpoint of another config '
            '(another size, head or number of classes)?')
    if dropped:
        MMLogger.get_current_instance().info(
            f'{source}: not part of the model, left out: {show_short(dropped)}')
    own = model.state_dict()
    fitting = {k: v for k, v in state.items()
               if k in own and getattr(v, 'shape', None) == own[k].shape}
    return fitting, layout, problems


def dataset_meta_of(checkpoint: dict) -> Optional[dict]:
    """Class names and palette a checkpoint was trained with, in mmengine's form
    (``classes``, ``palette``): mmseg 1.x / mmdet 3.x ``meta['dataset_meta']``,
    or mmseg 0.x / mmdet 2.x ``meta['CLASSES']`` and ``meta['PALETTE']``."""
    meta = checkpoint.get('meta') or {}
    if meta.get('dataset_meta'):
        return dict(meta['dataset_meta'])
    if meta.get('CLASSES') is None:
        return None
    found = dict(classes=tuple(meta['CLASSES']))
    if meta.get('PALETTE') is not None:
        found['palette'] = [list(color) for color in meta['PALETTE']]
    return found


def load_model_weights(model: nn.Module, source: str, strict: bool = True) -> dict:
    """Load a trained whole-model checkpoint (path or URL) into ``model``.

    The file is read once (URLs are downloaded once, into torch hub's cache),
    converted from its layout in memory and loaded strictly; the log says
    which layout it was read as.

    Args:
        model (nn.Module): The segmentor / detector.
        source (str): Checkpoint path or URL.
        strict (bool): Refuse a file that does not fit exactly (default);
            otherwise load the keys that fit and log the rest.

    Returns:
        The checkpoint as read, its ``state_dict`` replaced by the converted one.

    Raises:
        ValueError: the file cannot be read, or does not fit
            (:class:`ModelCheckpointMismatch`), naming the file.
        FileNotFoundError: there is no such file.
    """
    checkpoint = read_checkpoint(source)
    state, layout, problems = fit_model_state(model, checkpoint, source, strict)
    model.load_state_dict(state, strict=False)
    logger = MMLogger.get_current_instance()
    logger.info(f'{type(model).__name__}: loaded {len(state)} tensors from {source} '
                f'(read as {layout})')
    if problems:
        logger.warning(f'{source}: not loaded (--non-strict): {"; ".join(problems)}')
    return dict(checkpoint, state_dict=state)


def convert_model_checkpoint_file(model: nn.Module, src: str, dst: str) -> str:
    """Check ``src`` against ``model`` strictly and save it in ``model``'s names.

    The file written is an mmengine checkpoint (``meta['dataset_meta']`` from
    the source's class names and palette, whichever mmseg version wrote
    them), loadable by ``tools/test.py``, ``init_model`` and ``load_from``
    without any conversion.

    Returns:
        The layout ``src`` was read as.
    """
    checkpoint = read_checkpoint(src)
    state, layout, _ = fit_model_state(model, checkpoint, src)
    meta = {'converted_from': osp.basename(src), 'read_as': layout}
    dataset_meta = dataset_meta_of(checkpoint)
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    save_checkpoint_atomically({'state_dict': state, 'meta': meta}, dst)
    return layout
