"""Load mmengine checkpoints under torch's safe (``weights_only``) unpickler.

torch >= 2.6 loads with ``weights_only=True``, which refuses any pickled
class it does not know. mmengine's own checkpoints hold a few such classes
(the message hub's ``HistoryBuffer`` of numpy arrays), so a plain
``resume=True`` fails. The fix here allowlists exactly those types and keeps
the safe loader on: a checkpoint that pickles anything else (a function such
as ``posix.system``, any class) is refused with one line naming the file and
what it pickles, because unpickling calls those objects and so can run
arbitrary code.

mmengine reads every checkpoint (``resume``, ``load_from``, a
``Pretrained`` init, the host toolboxes' ``init_model`` and inferencers)
through one process-wide table of loaders, ``CheckpointLoader``; registering
:func:`load_from_local_safely` for local files there is its only extension
point. :func:`safe_checkpoint_loading` does that for one ``with`` block and
then restores whatever loader was registered before.
"""
import os
import os.path as osp
import pickle
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, MMLogger
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import load_from_local

from mmfreq.errors import UserError

#: The statistics methods ``HistoryBuffer`` defines; a checkpoint pickles them
#: as ``getattr(HistoryBuffer, name)``. Methods registered later with
#: ``HistoryBuffer.register_statistics`` are not attributes of the class, so
#: a pickle names them by their own module instead (and is refused).
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError, UserError):
    """A checkpoint pickles globals outside the allowlist (the message names
    the file and the globals)."""


class _ForbiddenLookup(Exception):
    """A ``getattr`` in a checkpoint other than a ``HistoryBuffer`` statistic.

    Not an ``UnpicklingError``, so that torch lets it through unchanged
    instead of rewording it with its advice to turn ``weights_only`` off.
    """


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """Stands in for ``getattr`` while unpickling, for one use only.

    A ``HistoryBuffer`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. A general ``getattr`` would let a
    crafted checkpoint reach any attribute of any allowed object and call
    it, so only those lookups are answered.
    """
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    owner_name = getattr(owner, '__qualname__', type(owner).__name__)
    raise _ForbiddenLookup(f'getattr({owner_name}, {name!r})')


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


def refused_globals(filename: str, err: pickle.UnpicklingError) -> List[str]:
    """The globals (``posix.system``, ``__main__.Payload``) that made torch's
    weights_only loader refuse ``filename``.

    Every one the pickle names, where torch can list them statically (files
    in torch's zip format), else the one torch's error names. Empty when the
    refusal is not about a global (a file that is not a checkpoint at all).

    Args:
        filename (str): The checkpoint torch refused.
        err (pickle.UnpicklingError): torch's error.

    Returns:
        list[str]: ``module.name`` of each global, sorted.
    """
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except (ValueError, RuntimeError):  # the legacy (non-zip) format, a damaged archive
        found = []
    return sorted(set(found) or set(re.findall(r'GLOBAL ([\w.]+)', str(err))))


def _weights_only_detail(err: pickle.UnpicklingError) -> str:
    """What torch's weights_only loader stopped at, without its advice to
    load with ``weights_only=False`` (the paragraphs around the detail)."""
    text = str(err)
    match = re.search(r'WeightsUnpickler error:\s*(.+)', text)
    if match:
        return match.group(1).strip()
    paragraphs = [p.strip() for p in text.split('\n\n') if p.strip()]
    details = [p for p in paragraphs if 'weights_only' not in p and not p.startswith('Check the')]
    return details[0] if details else text


def load_from_local_safely(filename: str,
                           map_location: Optional[Union[str, torch.device, Callable]] = None
                           ) -> Any:
    """``torch.load`` a local checkpoint with ``weights_only=True``.

    With ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in the environment (torch's
    own switch for files the user trusts) the file is loaded without the
    check, and a warning says so.

    Args:
        filename (str): The checkpoint file.
        map_location: As :func:`torch.load`'s.

    Returns:
        The unpickled checkpoint.

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        UnsafeCheckpointError: the file pickles a global outside
            :func:`mmengine_checkpoint_globals` and torch's own safe set;
            one line naming the file and the globals.
        pickle.UnpicklingError: the file is not a torch checkpoint (naming
            it and where torch's unpickler stopped).
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
        except _ForbiddenLookup as err:
            what = str(err)
        except pickle.UnpicklingError as err:
            found = refused_globals(filename, err)
            if not found:
                raise pickle.UnpicklingError(
                    f'{filename} is not a torch checkpoint: its unpickler stopped at '
                    f'{_weights_only_detail(err)!r}') from None
            what = ', '.join(found)
    # torch's own error is not chained: its advice to turn weights_only off is
    # wrong for a file that pickles code
    raise UnsafeCheckpointError(
        f'refusing to load checkpoint {filename}: it pickles {what}, which unpickling would '
        'call, so loading it could run arbitrary code. mmfreq loads only tensors, plain '
        'data and the types mmengine checkpoints hold (see "Safe loading" in '
        'docs/reliability.md)')


def _local_loader() -> Callable:
    """mmengine's loader for local files now.

    ``CheckpointLoader`` has no public way to read its table (only
    ``register_scheme`` and ``load_checkpoint``), so its ``_schemes`` is
    read: restoring exactly the previous loader needs it.
    """
    return CheckpointLoader._schemes['']


def enable_safe_checkpoint_loading() -> None:
    """Make mmengine load local checkpoints through :func:`load_from_local_safely`,
    for the rest of the process.

    This covers ``resume``, ``load_from``, ``init_cfg=dict(type='Pretrained')``
    and the host toolboxes' ``init_model`` and inferencers. Remote schemes
    (http, s3, ...) keep mmengine's own loaders. mmengine's loader table is
    process-wide, so this is a process-wide switch by design: it is what a
    config can ask for (``import mmfreq.safe_loading`` in its
    ``custom_imports``; the host's tools run the config afterwards, with no
    block to leave) and what mmfreq's tools do for their own process.
    Library code uses :func:`safe_checkpoint_loading` instead.
    """
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local_safely)


def disable_safe_checkpoint_loading() -> None:
    """Give mmengine back its own loader for local files (``load_from_local``),
    undoing :func:`enable_safe_checkpoint_loading`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)


@contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """Load local checkpoints through :func:`load_from_local_safely` inside the
    block only; on leaving it, the loader registered before is registered
    again (mmengine's own, the safe one, or any other), whether the block
    ends normally or by an exception.

    Example:
        >>> with safe_checkpoint_loading():
        ...     runner.train()  # resume=True works under torch >= 2.6
    """
    previous = _local_loader()
    enable_safe_checkpoint_loading()
    try:
        yield
    finally:
        CheckpointLoader.register_scheme(prefixes='', force=True)(previous)
