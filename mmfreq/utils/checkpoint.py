"""Load mmengine checkpoints under torch's safe (``weights_only``) unpickler.

torch >= 2.6 loads with ``weights_only=True``, which refuses any pickled
class it does not know. mmengine's own checkpoints hold a few such classes
(the message hub's ``HistoryBuffer`` of numpy arrays), so a plain
``resume=True`` fails. The fix here allowlists exactly those types and keeps
the safe loader on: a checkpoint carrying any other pickled object is refused
with an error naming the file and the offending globals, because unpickling
it could run arbitrary code.
"""
import os
import os.path as osp
import pickle
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, MMLogger
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import load_from_local


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects outside the allowlist."""


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """Stands in for ``getattr`` while unpickling, for one use only.

    A ``HistoryBuffer`` pickles its statistics methods (``min``, ``max``,
    ``current``, ``mean`` and any registered later) as
    ``getattr(HistoryBuffer, 'min')``. A general ``getattr`` would let a
    crafted checkpoint reach any attribute of any allowed object and call it,
    so only that lookup is answered.
    """
    registered = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in registered:
        return getattr(HistoryBuffer, name)
    raise UnsafeCheckpointError(
        f'getattr({owner!r}, {name!r}) in a checkpoint: only HistoryBuffer statistics '
        'methods may be looked up while loading')


def mmengine_checkpoint_globals() -> List[Any]:
    """The non-tensor globals an mmengine 0.10 checkpoint pickles.

    The message hub stores ``HistoryBuffer`` objects whose state is numpy
    arrays plus their statistics methods (looked up with ``getattr``), and
    numpy scalars appear in its runtime info. Unpickling a numpy 2 dtype
    builds an instance of its per-type class (``numpy.dtypes.Float64DType``,
    ...); every such class but object and void (which could hold arbitrary
    Python objects) is plain data and is allowed.
    """
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = [type(np.dtype(code)) for code in np.typecodes['All'] if code not in 'OV']
    return [HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
            *dtype_classes, (_history_buffer_method, 'builtins.getattr')]


# torch's own escape hatch from weights_only loading, honoured here too.
TRUST_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


def trusts_all_checkpoints() -> bool:
    """Whether the user set ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``, read as torch reads it."""
    return os.getenv(TRUST_ENV, '0').lower() in ('1', 'y', 'yes', 'true')


def load_from_local_safely(filename: str,
                           map_location: Optional[Union[str, torch.device, Callable]] = None
                           ) -> Any:
    """``torch.load`` a local checkpoint with ``weights_only=True``.

    With ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in the environment (torch's
    own switch for files the user trusts) the file is loaded without the
    check, and a warning says so.

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        UnsafeCheckpointError: the file pickles a type outside
            :func:`mmengine_checkpoint_globals` and torch's own safe set.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    if trusts_all_checkpoints():
        MMLogger.get_current_instance().warning(
            f'{TRUST_ENV}=1: loading {filename} with the full unpickler, which runs any '
            'code the file carries')
        return torch.load(filename, map_location=map_location, weights_only=False)
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
            raise UnsafeCheckpointError(
                f'refusing to load checkpoint {filename}: it pickles objects that are '
                f'neither tensors nor the types mmengine checkpoints hold: '
                f'{", ".join(unsafe) or err}. Loading them could run arbitrary code. '
                'Save only state dicts of tensors (plus numbers, strings, lists, dicts); '
                f'if you trust the file, load it with {TRUST_ENV}=1 in the environment '
                'and re-save it without those objects.') from err


def enable_safe_checkpoint_loading() -> None:
    """Make mmengine load local checkpoints through :func:`load_from_local_safely`.

    This covers ``resume``, ``load_from`` and ``init_cfg=dict(type='Pretrained')``.
    Remote schemes (http, s3, ...) keep mmengine's own loaders. It replaces
    mmengine's local-file loader for the whole process, so nothing calls it
    implicitly: mmfreq's tools and configs do (``import mmfreq.safe_loading``).
    :func:`disable_safe_checkpoint_loading` undoes it.
    """
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local_safely)


def disable_safe_checkpoint_loading() -> None:
    """Give mmengine back its own loader for local files (``load_from_local``),
    undoing :func:`enable_safe_checkpoint_loading`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)


@contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """Load local checkpoints through :func:`load_from_local_safely` inside the
    block only; mmengine's own loader is registered again on leaving it.

    Example:
        >>> with safe_checkpoint_loading():
        ...     runner.train()  # resume=True works under torch >= 2.6
    """
    enable_safe_checkpoint_loading()
    try:
        yield
    finally:
        disable_safe_checkpoint_loading()
