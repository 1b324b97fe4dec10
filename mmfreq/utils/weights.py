"""Released weights into mmfreq backbones: one strict loader for every format.

Each backbone lists the published namings of its weights as
:class:`WeightFormat` s (the official release, mmpretrain's, timm's, mmfreq's
own). :func:`load_pretrained_weights` reads a file or URL, recognises the
format from the keys, converts the names in memory and loads strictly: a key
that cannot belong to the module, or a shape that differs, stops with a
ValueError naming the file, the format it was taken for and the keys. Keys a
format legitimately lacks (parameters mmfreq adds, e.g. FDAM's) start fresh
and are listed in the log.

A whole model checkpoint (mmseg, mmdet, mmpretrain) is recognised by its
``backbone.`` keys; the rest of the model (heads, necks) is not loaded and
is named in the log.
"""
import os
import os.path as osp
import pickle
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.error import URLError
from urllib.parse import urlparse

import torch
import torch.nn as nn
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import get_torchvision_models

from .atomic_save import save_checkpoint_atomically
from .checkpoint import UnsafeCheckpointError, safe_checkpoint_loading

StateDict = Dict[str, torch.Tensor]

# Where a whole detector / segmentor / classifier keeps its backbone.
MODEL_BACKBONE_PREFIX = 'backbone.'


@dataclass(frozen=True)
class WeightFormat:
    """One published naming of a backbone's weights.

    Args:
        name (str): Said in logs and errors, e.g. ``'official VAN release'``.
        markers (Sequence[str]): fnmatch patterns; a state dict is in this
            format when every pattern matches at least one of its keys.
        convert (Callable): Maps a state dict of this format onto the
            module's names (unknown keys are passed through, so that the
            strict check names them).
        may_be_new (Sequence[str]): Patterns of module keys this format does
            not have; they start fresh.
        may_be_dropped (Sequence[str]): Patterns of converted keys that are
            not part of the backbone (classifier heads) and are not loaded.
    """

    name: str
    markers: Sequence[str]
    convert: Callable[[StateDict], StateDict] = dict
    may_be_new: Sequence[str] = ()
    may_be_dropped: Sequence[str] = ()

    def recognises(self, keys: Sequence[str]) -> bool:
        return all(any(fnmatch(key, marker) for key in keys) for marker in self.markers)


def show_short(keys: Sequence[str], limit: int = 8) -> str:
    """``a, b, c ... (N in all)`` for log lines."""
    keys = list(keys)
    return ', '.join(keys[:limit]) + (f' ... ({len(keys)} in all)' if len(keys) > limit else '')


def download_cached(url: str) -> str:
    """Download ``url`` once into torch hub's checkpoint cache; return the local path.

    The cache is the one mmengine and ``torch.hub`` use
    (``$TORCH_HOME/hub/checkpoints``). A file name carrying a hash prefix
    (``name-6a4cc31b.pth``, the OpenMMLab and torchvision convention) is
    checked against it. In distributed runs rank 0 downloads and the others
    wait, as mmengine does.

    Raises:
        ConnectionError: naming the URL, when it cannot be downloaded.
        ValueError: naming the URL, when the download fails its hash check.
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
            raise ConnectionError(
                f'could not download {url} ({err}). Without network, download it '
                f'elsewhere and put it at {path}, or give init_cfg a local checkpoint '
                'path') from err
        except RuntimeError as err:  # torch.hub's hash check
            raise ValueError(f'{url}: the download is damaged: {err}') from err
    if world_size > 1:
        barrier()
    return path


def read_checkpoint(source: str) -> dict:
    """Read a checkpoint from a local path, an http(s) URL or another mmengine scheme.

    URLs (and ``torchvision://NAME``) are downloaded once
    (:func:`download_cached`) and then read like a local file, through
    mmfreq's safe loader (whatever loader mmengine has registered), never
    with the full unpickler.

    Raises:
        ValueError: the file is not a readable torch checkpoint (truncated,
            or another file type); FileNotFoundError: there is no such file.
    """
    url = source
    if source.startswith('torchvision://'):  # mmengine's name for torchvision's releases
        url = get_torchvision_models()[source[len('torchvision://'):]]
    path = download_cached(url) if url.startswith(('http://', 'https://')) else source
    try:
        with safe_checkpoint_loading():
            checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except UnsafeCheckpointError:  # names the file and what it pickles
        raise
    except FileNotFoundError:
        raise
    # OSError: torch's zip reader on some truncated files ('[Errno 22] Invalid argument')
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError) as err:
        where = source if path == source else f'{source} (cached at {path}; delete it to ' \
            'download again)'
        raise ValueError(f'{where} is not a readable checkpoint (truncated, not saved by '
                         f'torch, or refused by its weights_only loader): {err}') from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{source} holds a {type(checkpoint).__name__}, not a state dict')
    return checkpoint


def state_dict_of(checkpoint: dict) -> StateDict:
    """The tensors of a checkpoint: its ``state_dict`` / ``model`` entry, without ``module.``."""
    state = checkpoint
    for entry in ('state_dict', 'model', 'module'):
        if isinstance(state.get(entry), dict):
            state = state[entry]
            break
    if state and all(key.startswith('module.') for key in state):  # saved from DDP
        state = {key[len('module.'):]: value for key, value in state.items()}
    return {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}


def _recognise(state: StateDict, formats: Sequence[WeightFormat],
               prefix: str) -> Tuple[WeightFormat, StateDict, List[str]]:
    """``(format, backbone state, keys left out as other parts of a whole model)``."""
    if prefix:
        state_of_prefix = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state_of_prefix:
            raise LookupError(f'no key starts with prefix={prefix!r} (first keys: '
                              f'{show_short(sorted(state), 4)})')
        others = [k for k in state if not k.startswith(prefix)]
        state = state_of_prefix
    else:
        others = []
    for fmt in formats:
        if fmt.recognises(list(state)):
            return fmt, state, others
    if not prefix and any(k.startswith(MODEL_BACKBONE_PREFIX) for k in state):
        return _recognise(state, formats, MODEL_BACKBONE_PREFIX)
    raise LookupError(f'its keys are in none of the known formats ('
                      f'{"; ".join(f.name for f in formats)}); first keys: '
                      f'{show_short(sorted(state), 6)}')


@dataclass(frozen=True)
class KeyDiff:
    """How a checkpoint's state dict differs from a module's.

    Args:
        missing (list): The module's keys the checkpoint lacks.
        unexpected (list): The checkpoint's keys the module does not have.
        other_shapes (list): ``(key, shape in the checkpoint, shape in the
            module)`` for the keys both have.
    """

    missing: List[str]
    unexpected: List[str]
    other_shapes: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]]


def diff_keys(own: Mapping[str, torch.Tensor], theirs: Mapping[str, object]) -> KeyDiff:
    """Compare a checkpoint's state dict with a module's (``module.state_dict()``).

    The one comparison behind every strict load in mmfreq: the backbone
    loader, the whole-model loader and the test-time check word its result.
    """
    return KeyDiff(
        missing=[k for k in own if k not in theirs],
        unexpected=[k for k in theirs if k not in own],
        other_shapes=[(k, tuple(v.shape), tuple(own[k].shape)) for k, v in theirs.items()
                      if k in own and hasattr(v, 'shape')
                      and tuple(v.shape) != tuple(own[k].shape)])


def convert_checked(module: nn.Module, state: StateDict, fmt: WeightFormat,
                    source: str) -> Tuple[StateDict, List[str], List[str]]:
    """Convert ``state`` (in ``fmt``) to ``module``'s names and check it fits exactly.

    Returns:
        ``(converted state to load, module keys it lacks, keys dropped)``.

    Raises:
        ValueError: naming ``source``, the format and every key that cannot
            belong to ``module`` (unexpected, missing, or of another shape).
    """
    converted = fmt.convert(state)
    own = module.state_dict()
    diff = diff_keys(own, converted)
    missing, unexpected = diff.missing, diff.unexpected
    dropped = [k for k in unexpected if any(fnmatch(k, p) for p in fmt.may_be_dropped)]
    bad_missing = [k for k in missing if not any(fnmatch(k, p) for p in fmt.may_be_new)]
    bad_unexpected = [k for k in unexpected if k not in dropped]
    bad_shapes = [f'{k} {theirs} (needs {needed})' for k, theirs, needed in diff.other_shapes]
    if bad_missing or bad_unexpected or bad_shapes:
        problems = [f'{label}: [{show_short(keys, 12)}]' for label, keys in (
            ('missing keys', bad_missing), ('unexpected keys', bad_unexpected),
            ('other shapes', bad_shapes)) if keys]
        raise ValueError(f'{source} (read as {fmt.name}) does not fit '
                         f'{type(module).__name__} (a checkpoint of another architecture or '
                         f'size?): {"; ".join(problems)}')
    return {k: v for k, v in converted.items() if k in own}, missing, dropped


def load_pretrained_weights(module: nn.Module, source: str, formats: Sequence[WeightFormat],
                            prefix: str = '') -> List[str]:
    """Load the checkpoint at ``source`` (path or URL) into ``module``, strictly.

    Args:
        module (nn.Module): The backbone.
        source (str): Local path or any mmengine scheme (``https://``,
            ``torchvision://``, ...). Downloads are cached.
        formats (Sequence[WeightFormat]): The namings ``module`` accepts,
            tried in order.
        prefix (str): Keep only keys under this prefix (stripped), e.g.
            ``'backbone.'``. Without it, a whole model checkpoint's
            ``backbone.`` part is found by itself.

    Returns:
        The module's keys that the checkpoint did not provide (they start fresh).

    Raises:
        ValueError: naming ``source``: unreadable file, keys in no known
            format, a prefix no key has, or keys / shapes that do not fit.
    """
    state = state_dict_of(read_checkpoint(source))
    try:
        fmt, state, others = _recognise(state, formats, prefix)
    except LookupError as err:
        under = f' under prefix={prefix!r}' if prefix else ''
        raise ValueError(f'{source} is not a {type(module).__name__} checkpoint{under}: '
                         f'{err.args[0]}') from err
    to_load, new, dropped = convert_checked(module, state, fmt, source)
    module.load_state_dict(to_load, strict=False)
    logger = MMLogger.get_current_instance()
    logger.info(f'{type(module).__name__}: loaded {len(to_load)} tensors from {source} '
                f'(read as {fmt.name}); new (initialised fresh): {show_short(new) or "none"}'
                + (f'; not the backbone, left out: {show_short(others + dropped)}'
                   if others or dropped else ''))
    return new


def init_from_pretrained(module: nn.Module, formats: Sequence[WeightFormat]) -> bool:
    """Apply ``module.init_cfg`` if it is ``dict(type='Pretrained', ...)``.

    The one ``init_weights`` branch of every mmfreq backbone: mmengine's own
    Pretrained initialiser loads whatever keys happen to match and only logs
    the rest, so it is never used for mmfreq backbones.

    Returns:
        True if weights were loaded (the backbone's own initialisation is skipped).

    Raises:
        ValueError: a ``Pretrained`` entry inside a list of initialisers
            (it would be applied by mmengine's non-strict loader).
    """
    init_cfg: Optional[dict] = getattr(module, 'init_cfg', None)
    if isinstance(init_cfg, (list, tuple)):
        if any(cfg.get('type') == 'Pretrained' for cfg in init_cfg):
            raise ValueError(f'{type(module).__name__}: give init_cfg=dict(type='
                             f"'Pretrained', checkpoint=...) alone, not inside a list "
                             f'({init_cfg})')
        return False
    if not isinstance(init_cfg, dict) or init_cfg.get('type') != 'Pretrained':
        return False
    load_pretrained_weights(module, init_cfg['checkpoint'], formats,
                            prefix=init_cfg.get('prefix', '') or '')
    return True


def init_from_cfg(module: BaseModule, formats: Sequence[WeightFormat]) -> bool:
    """Apply ``module.init_cfg``, if it has one: ``Pretrained`` strictly
    (:func:`init_from_pretrained`), any other mmengine initialiser through
    :meth:`BaseModule.init_weights`.

    How the ``init_weights`` of a backbone with its own default
    initialisation opens.

    Returns:
        True if ``init_cfg`` was applied (the default initialisation is skipped).
    """
    if init_from_pretrained(module, formats):
        return True
    if module.init_cfg is None:
        return False
    BaseModule.init_weights(module)
    return True


def save_converted_checkpoint(state_dict: StateDict, src: str, dst: str) -> None:
    """Write a converted state dict as an mmengine-style checkpoint (folders
    are created), atomically, as the runner saves: a kill leaves ``dst`` as
    it was, never half written."""
    save_checkpoint_atomically({'state_dict': state_dict,
                                'meta': {'converted_from': osp.basename(src)}}, dst)


def convert_checkpoint_file(module: nn.Module, formats: Sequence[WeightFormat], src: str,
                            dst: str) -> List[str]:
    """Load ``src`` into ``module`` as ``init_cfg`` would, then save it in mmfreq's names.

    What ``tools/model_converters/*`` do, for offline use: the same
    recognition and checks as :func:`load_pretrained_weights`; the keys
    ``src`` does not provide are not written.

    Returns:
        The module's keys that ``src`` did not provide.
    """
    new = load_pretrained_weights(module, src, formats)
    state = {k: v for k, v in module.state_dict().items() if k not in new}
    save_converted_checkpoint(state, src, dst)
    return new
