"""Weights into mmfreq's models: one strict loader for backbones and whole
models, in visible steps: read (:func:`read_checkpoint`), recognise the layout
among the parts' declared :class:`WeightFormat` s, convert, compare
(:func:`diff_keys`), load or stop with a :class:`CheckpointError`. The steps
and why: "How a checkpoint is read" in docs/reliability.md."""
import os
import os.path as osp
import pickle
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.error import URLError
from urllib.parse import urlparse

import torch
import torch.nn as nn
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import MMLogger
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import get_torchvision_models

from mmfreq.errors import UserError

from .atomic_save import save_checkpoint_atomically
from .safe_unpickling import UnsafeCheckpointError, safe_checkpoint_loading

StateDict = Dict[str, torch.Tensor]

# Where a whole detector / segmentor / classifier keeps its backbone.
MODEL_BACKBONE_PREFIX = 'backbone.'


class CheckpointError(ValueError, UserError):
    """A checkpoint that cannot be read, is in no layout the module knows, or
    does not fit the module.

    Args:
        message (str): The whole message (it names the file).
        source (str): The file or URL.
        layout (str, optional): The layout it was read as; None when it could
            not be read or recognised.
        keys (Sequence[str]): The first keys that do not fit (missing,
            unexpected or of another shape), or that no known layout has.
        reason (str): Why, without the file name (what ``--resume`` logs
            for each file it skips).
    """

    def __init__(self, message: str, source: str = '', layout: Optional[str] = None,
                 keys: Sequence[str] = (), reason: str = '') -> None:
        super().__init__(message)
        self.source = source
        self.layout = layout
        self.keys = list(keys)
        self.reason = reason or message

    def reworded(self, message: str) -> 'CheckpointError':
        """The same error (file, layout, keys, reason) with another message."""
        return CheckpointError(message, self.source, self.layout, self.keys, self.reason)


class CheckpointDownloadError(ConnectionError, UserError):
    """A checkpoint URL that cannot be downloaded (the message names it and
    where to put the file instead)."""


def matches_all(patterns: Sequence[str], keys: Sequence[str]) -> bool:
    """Whether every fnmatch pattern matches at least one of ``keys``."""
    return all(any(fnmatch(key, pattern) for key in keys) for pattern in patterns)


def matches_any(key: str, patterns: Sequence[str]) -> bool:
    """Whether ``key`` matches one of the fnmatch ``patterns``."""
    return any(fnmatch(key, pattern) for pattern in patterns)


@dataclass(frozen=True)
class WeightFormat:
    """One published naming of a part's weights (a backbone's, a neck's).

    Args:
        name (str): Said in logs and errors, e.g. ``'official VAN release'``.
        markers (Sequence[str]): fnmatch patterns; a state dict is in this
            format when every pattern matches at least one of its keys.
        convert (Callable): Maps a state dict of this format onto the
            module's names (unknown keys are passed through, so that the
            strict check names them).
        may_be_new (Sequence[str]): Patterns of module keys this format does
            not have; they start fresh when a backbone is initialised from it.
        may_be_dropped (Sequence[str]): Patterns of converted keys that are
            not part of the module (classifier heads) and are not loaded.
    """

    name: str
    markers: Sequence[str]
    convert: Callable[[StateDict], StateDict] = dict
    may_be_new: Sequence[str] = ()
    may_be_dropped: Sequence[str] = ()

    def recognises(self, keys: Sequence[str]) -> bool:
        return matches_all(self.markers, keys)

    def apply(self, state: StateDict, module: nn.Module) -> Tuple[StateDict, List[str]]:
        """``(state in the names of module, converted keys left out as no part of it)``:
        a key matching ``may_be_dropped`` is left out only where ``module`` has
        no such key (a ViT with a final norm keeps the release's ``norm.*``)."""
        own = module.state_dict()
        converted, dropped = {}, []
        for key, value in self.convert(state).items():
            if key not in own and matches_any(key, self.may_be_dropped):
                dropped.append(key)
            else:
                converted[key] = value
        return converted, dropped


def weight_formats_of(module: nn.Module) -> Tuple[WeightFormat, ...]:
    """The formats a part declares in ``weight_formats()``; none for parts
    whose keys are their module's names (a host toolbox's heads and necks)."""
    declared = getattr(module, 'weight_formats', None)
    return tuple(declared()) if callable(declared) else ()


#: Whole trained models as their authors released them, by a key each holds.
#: Only the log and the errors say these names: the parts' own formats
#: decide the conversion.
RELEASED_MODEL_LAYOUTS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ('official VAN-Segmentation release (mmseg 0.x; Visual-Attention-Network/VAN-Segmentation)',
     ('backbone.block1.0.mlp.dwconv.dwconv.weight', )),
    ("mmseg 1.x projects/van (VAN on mmseg's MSCAN blocks)",
     ('backbone.block1.0.attn.spatial_gating_unit.conv0.weight',
      'backbone.block1.0.mlp.dwconv.weight')),
    ('official FDAM release (mmseg 0.25; Linwei-Chen/FDAM FDAM_mmseg)',
     ('backbone.blocks.0.freq_scale_1.*', 'neck.fpn1.0.weight')),
)


def show_short(keys: Sequence[str], limit: int = 8) -> str:
    """``a, b, c ... (N in all)`` for log lines."""
    keys = list(keys)
    return ', '.join(keys[:limit]) + (f' ... ({len(keys)} in all)' if len(keys) > limit else '')


# 1. Read ----------------------------------------------------------------------------------

def download_cached(url: str) -> str:
    """Download ``url`` once into torch hub's checkpoint cache (checked against
    a ``name-<hash>.pth`` prefix; rank 0 downloads) and return the local path.

    Raises:
        CheckpointDownloadError: naming the URL, when it cannot be downloaded.
        CheckpointError: naming the URL, when the download fails its hash check.
    """
    cache_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    path = osp.join(cache_dir, osp.basename(urlparse(url).path))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(path):
        os.makedirs(cache_dir, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(osp.basename(path))
        try:
            torch.hub.download_url_to_file(url, path, match.group(1) if match else None,
                                           progress=False)
        except (URLError, OSError) as err:
            raise CheckpointDownloadError(
                f'could not download {url} ({err}). Without network, download it '
                f'elsewhere and put it at {path}, or give init_cfg a local checkpoint '
                'path') from err
        except RuntimeError as err:  # torch.hub's hash check
            raise CheckpointError(f'{url}: the download is damaged: {err}', url,
                                  reason=f'damaged download: {err}') from err
    if world_size > 1:
        barrier()
    return path


def _unreadable_reason(path: str, err: BaseException) -> str:
    """``'<size> bytes, <error>: <first line>'``, or what cut a zip archive short."""
    size = osp.getsize(path)
    with open(path, 'rb') as file:
        zip_header = file.read(4) == b'PK\x03\x04'
    if size and zip_header and not zipfile.is_zipfile(path):
        return f'{size} bytes: cut short, its zip archive has no end'
    text = str(err).strip()
    return f'{size} bytes, {type(err).__name__}: ' + (text.splitlines()[0] if text
                                                      else 'the file ends early')


def read_checkpoint(source: str) -> dict:
    """Read a checkpoint from a local path, an http(s) URL (downloaded once) or
    ``torchvision://NAME``, always through mmfreq's safe unpickler.

    Raises:
        CheckpointNotFoundError: there is no such file.
        UnsafeCheckpointError: the file pickles code.
        CheckpointError: the file is not a readable torch checkpoint.
    """
    url = source
    if source.startswith('torchvision://'):  # mmengine's name for torchvision's releases
        url = get_torchvision_models()[source[len('torchvision://'):]]
    path = download_cached(url) if url.startswith(('http://', 'https://')) else source
    try:
        with safe_checkpoint_loading():
            checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except (UnsafeCheckpointError, FileNotFoundError):  # they name the file
        raise
    # OSError: torch's zip reader on some truncated files ('[Errno 22] Invalid argument')
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError) as err:
        reason = _unreadable_reason(path, err)
        where = source if path == source else f'{source} (cached at {path}; delete it to ' \
            'download again)'
        raise CheckpointError(f'{where} is not a readable checkpoint ({reason}; truncated, '
                              "not saved by torch, or refused by its weights_only loader)",
                              source, reason=reason) from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{source} holds a {type(checkpoint).__name__}, not a state dict',
                              source, reason=f'a {type(checkpoint).__name__}, not a dict')
    return checkpoint


def state_dict_of(checkpoint: dict) -> StateDict:
    """The tensors of a checkpoint: its ``state_dict`` / ``model`` entry, without
    the ``module.`` prefix of a save from a DDP-wrapped model."""
    state = checkpoint
    for entry in ('state_dict', 'model', 'module'):
        if isinstance(state.get(entry), dict):
            state = state[entry]
            break
    if state and all(key.startswith('module.') for key in state):
        state = {key[len('module.'):]: value for key, value in state.items()}
    return {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}


# 2-3. Recognise and convert ---------------------------------------------------------------

def recognise_backbone_state(module: nn.Module, state: StateDict, source: str,
                             prefix: str = '') -> Tuple[WeightFormat, StateDict, List[str]]:
    """``(format, the backbone's part of state, keys of other parts)``: the
    format of a backbone's weights among ``module.weight_formats()``.

    Args:
        module (nn.Module): The backbone.
        state (dict): The checkpoint's tensors.
        source (str): The file, for the error.
        prefix (str): Keep only keys under this prefix (stripped); without
            it, a whole model's ``backbone.`` part is found by itself.

    Raises:
        CheckpointError: no key has ``prefix``, or the keys are in no format.
    """
    formats = weight_formats_of(module)
    name = type(module).__name__
    others: List[str] = []
    if prefix:
        others = [k for k in state if not k.startswith(prefix)]
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            first = sorted(others)[:4]
            raise CheckpointError(
                f'{source} is not a {name} checkpoint under prefix={prefix!r}: no key starts '
                f'with it (first keys: {show_short(first)})', source, keys=first,
                reason=f'no key under prefix={prefix!r}')
    fmt = next((f for f in formats if f.recognises(list(state))), None)
    if fmt is None and not prefix and any(k.startswith(MODEL_BACKBONE_PREFIX) for k in state):
        return recognise_backbone_state(module, state, source, MODEL_BACKBONE_PREFIX)
    if fmt is None:
        under = f' under prefix={prefix!r}' if prefix else ''
        first = sorted(state)[:6]
        raise CheckpointError(
            f'{source} is not a {name} checkpoint{under}: its keys are in none of the known '
            f'formats ({"; ".join(f.name for f in formats)}); first keys: '
            f'{show_short(first)}', source, keys=first, reason='keys of no known format')
    return fmt, state, others


def convert_model_state(model: nn.Module, state: StateDict) -> Tuple[StateDict, str, List[str]]:
    """``(state, the layout it was read as, keys dropped)``: a whole model's
    ``state`` converted part by part (``backbone.``, ``neck.``, ...) with each
    part's own formats into ``model``'s names. A part in no format passes
    through unchanged, for the strict check to name its keys."""
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
        formats = weight_formats_of(module) if isinstance(module, nn.Module) else ()
        fmt = next((f for f in formats if f.recognises(list(part_state))), None)
        if fmt is None:
            if formats:
                read_as.append(f'{part}: keys of no known {type(module).__name__} format')
            converted.update((f'{part}.{k}', v) for k, v in part_state.items())
            continue
        part_converted, part_dropped = fmt.apply(part_state, module)
        converted.update((f'{part}.{k}', v) for k, v in part_converted.items())
        dropped += [f'{part}.{k}' for k in part_dropped]
        read_as.append(f'{part}: {fmt.name}')
    layout = next((name for name, markers in RELEASED_MODEL_LAYOUTS
                   if matches_all(markers, list(state))), 'mmfreq names')
    return converted, layout + (f', parts read as {"; ".join(read_as)}' if read_as else ''), dropped


# 4. Compare --------------------------------------------------------------------------------

@dataclass(frozen=True)
class KeyDiff:
    """How a checkpoint's state dict differs from a module's.

    Args:
        missing (list): The module's keys the checkpoint lacks and needs.
        unexpected (list): The checkpoint's keys the module does not have.
        other_shapes (list): ``(key, shape in the checkpoint, shape in the
            module)`` for the keys both have.
        new (list): The module's keys the checkpoint lacks that may start
            fresh (``may_be_new`` of its format; BatchNorm counters).
    """

    missing: List[str]
    unexpected: List[str]
    other_shapes: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]]
    new: List[str]

    def problems(self, limit: int = 10) -> List[str]:
        """What does not fit, one phrase per kind with its first ``limit``
        keys (``'2 missing keys: a, b'``); empty when everything fits."""
        shapes = [f'{k} {theirs} in the file, {own} in the model'
                  for k, theirs, own in self.other_shapes]
        phrases = []
        for what, keys in (('missing keys', self.missing), ('unexpected keys', self.unexpected),
                           ('shape mismatches', shapes)):
            if keys:
                more = ', ...' if len(keys) > limit else ''
                phrases.append(f'{len(keys)} {what}: {", ".join(keys[:limit])}{more}')
        return phrases

    def misfits(self, limit: int = 10) -> List[str]:
        """The first ``limit`` keys of each kind that do not fit."""
        return (self.missing[:limit] + self.unexpected[:limit]
                + [k for k, _, _ in self.other_shapes[:limit]])


def diff_keys(own: Mapping[str, torch.Tensor], theirs: Mapping[str, object],
              may_be_new: Sequence[str] = ()) -> KeyDiff:
    """Compare a checkpoint's state dict with a module's: the one comparison
    behind every strict load. A missing ``num_batches_tracked`` is never a problem.

    Args:
        own (Mapping): The module's state dict.
        theirs (Mapping): The checkpoint's, in the module's names.
        may_be_new (Sequence[str]): fnmatch patterns of the module's keys the
            checkpoint may lack.
    """
    absent = [k for k in own if k not in theirs]
    may_be_new = (*may_be_new, '*num_batches_tracked')
    return KeyDiff(
        missing=[k for k in absent if not matches_any(k, may_be_new)],
        unexpected=[k for k in theirs if k not in own],
        other_shapes=[(k, tuple(v.shape), tuple(own[k].shape)) for k, v in theirs.items()
                      if k in own and hasattr(v, 'shape')
                      and tuple(v.shape) != tuple(own[k].shape)],
        new=[k for k in absent if matches_any(k, may_be_new)])


def check_fits(module: nn.Module, state: StateDict, source: str, layout: str,
               may_be_new: Sequence[str] = (), hint: str = '', strict: bool = True) -> KeyDiff:
    """Compare ``state`` (in ``module``'s names) with ``module`` and return the
    :class:`KeyDiff`; with ``strict``, raise a :class:`CheckpointError` naming
    ``source``, ``layout``, the problems and ``hint`` unless it fits exactly."""
    diff = diff_keys(module.state_dict(), state, may_be_new)
    problems = diff.problems()
    if problems and strict:
        raise CheckpointError(
            f'{source} (read as {layout}) does not fit {type(module).__name__}: '
            f'{"; ".join(problems)}. {hint or "Is it a checkpoint of another model or size?"}',
            source, layout, diff.misfits(), reason='; '.join(problems))
    return diff


# 5. Load -----------------------------------------------------------------------------------

def load_pretrained_weights(module: nn.Module, source: str, prefix: str = '') -> List[str]:
    """Load the checkpoint at ``source`` into a backbone, strictly, and return
    the module's keys it did not provide (they start fresh).

    Args:
        module (nn.Module): The backbone, with its ``weight_formats()``.
        source (str): A path, URL or ``torchvision://`` name.
        prefix (str): As :func:`recognise_backbone_state`'s.

    Raises:
        CheckpointError: the file cannot be read, is in no format, or does not fit.
    """
    state = state_dict_of(read_checkpoint(source))
    fmt, state, others = recognise_backbone_state(module, state, source, prefix)
    converted, dropped = fmt.apply(state, module)
    diff = check_fits(module, converted, source, fmt.name, fmt.may_be_new)
    module.load_state_dict(converted, strict=False)
    MMLogger.get_current_instance().info(
        f'{type(module).__name__}: loaded {len(converted)} tensors from {source} (read as '
        f'{fmt.name}); new (initialised fresh): {show_short(diff.new) or "none"}'
        + (f'; not the backbone, left out: {show_short(others + dropped)}'
           if others or dropped else ''))
    return diff.new


def init_from_cfg(module: nn.Module, apply_init_cfg: Callable[[], None]) -> bool:
    """Apply ``module.init_cfg``, as every mmfreq backbone's ``init_weights``
    begins: ``Pretrained`` through :func:`load_pretrained_weights`, never
    mmengine's non-strict initialiser; any other through ``apply_init_cfg``
    (the parent's ``init_weights``, bound). False when ``init_cfg`` is None.

    Raises:
        ValueError: a ``Pretrained`` entry inside a list of initialisers.
        CheckpointError: the checkpoint cannot be read or does not fit.
    """
    init_cfg: Optional[dict] = getattr(module, 'init_cfg', None)
    if isinstance(init_cfg, (list, tuple)) and any(
            cfg.get('type') == 'Pretrained' for cfg in init_cfg):
        raise ValueError(f'{type(module).__name__}: give init_cfg=dict(type='
                         f"'Pretrained', checkpoint=...) alone, not inside a list "
                         f'({init_cfg})')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        load_pretrained_weights(module, init_cfg['checkpoint'],
                                prefix=init_cfg.get('prefix') or '')
        return True
    if init_cfg is None:
        return False
    apply_init_cfg()
    return True


def fit_model_state(model: nn.Module, checkpoint: dict, source: str,
                    strict: bool = True) -> Tuple[StateDict, str, List[str]]:
    """``(state to load, layout read as, what did not fit)``: the state dict of
    ``checkpoint`` in the names of ``model`` (unwrapped from DDP / TTA),
    checked against it; with ``strict``, a :class:`CheckpointError` naming
    ``source`` when anything does not fit."""
    state, layout, dropped = convert_model_state(model, state_dict_of(checkpoint))
    diff = check_fits(model, state, source, layout, strict=strict,
                      hint='Is it a checkpoint of another config (another size, head or '
                           'number of classes)?')
    if dropped:
        MMLogger.get_current_instance().info(
            f'{source}: not part of the model, left out: {show_short(dropped)}')
    misfits = set(diff.unexpected) | {k for k, _, _ in diff.other_shapes}
    fitting = {k: v for k, v in state.items() if k not in misfits}
    return fitting, layout, diff.problems()


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
    """Load a trained whole-model checkpoint (path or URL) into ``model``,
    converted from its layout, and return it with the converted ``state_dict``.

    Args:
        model (nn.Module): The segmentor / detector.
        source (str): Checkpoint path or URL.
        strict (bool): Refuse a file that does not fit exactly; otherwise
            load the keys that fit and log the rest.

    Raises:
        CheckpointError: the file cannot be read, or does not fit.
        CheckpointNotFoundError: there is no such file.
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


# Saving converted weights ------------------------------------------------------------------

def save_weights(state_dict: StateDict, dst: str, meta: dict) -> None:
    """Write a state dict as an mmengine checkpoint, atomically."""
    save_checkpoint_atomically({'state_dict': state_dict, 'meta': meta}, dst)


def convert_checkpoint_file(module: nn.Module, src: str, dst: str) -> str:
    """Check ``src`` against ``module`` as loading would, and save it in
    mmfreq's names (with a whole model's class names and palette); return
    what the converter's output line says."""
    meta = {'converted_from': osp.basename(src)}
    if weight_formats_of(module):
        new = load_pretrained_weights(module, src)
        state = {k: v for k, v in module.state_dict().items() if k not in new}
        save_weights(state, dst, meta)
        return f'new, starting fresh ({len(new)}): {show_short(new)}' if new else 'new: none'
    checkpoint = read_checkpoint(src)
    state, layout, _ = fit_model_state(model=module, checkpoint=checkpoint, source=src)
    meta['read_as'] = layout
    dataset_meta = dataset_meta_of(checkpoint)
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    save_weights(state, dst, meta)
    return f'read as {layout}'
