"""Safe unpickling of checkpoints: torch's ``weights_only`` loader, allowing
the few types mmengine's checkpoints hold and refusing any other pickled
global in one line, registered as mmengine's loader for local files
(reasons: "Safe loading" in docs/reliability.md)."""
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
#: as ``getattr(HistoryBuffer, name)``.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


class CheckpointNotFoundError(FileNotFoundError, UserError):
    """No checkpoint at the path given (the message names it)."""


class UnsafeCheckpointError(pickle.UnpicklingError, UserError):
    """A checkpoint pickles globals outside the allowlist (the message names them)."""


class _ForbiddenLookup(Exception):
    """A ``getattr`` in a checkpoint other than a ``HistoryBuffer`` statistic."""

    # not an UnpicklingError, which torch would reword with its advice to
    # turn weights_only off


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """``getattr`` while unpickling, answering only ``HistoryBuffer``'s statistics:
    a general one would let a checkpoint reach and call any attribute."""
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    owner_name = getattr(owner, '__qualname__', type(owner).__name__)
    raise _ForbiddenLookup(f'getattr({owner_name}, {name!r})')


def mmengine_checkpoint_globals() -> List[Any]:
    """The non-tensor globals an mmengine 0.10 checkpoint pickles: the message
    hub's ``HistoryBuffer`` (numpy arrays and its statistics methods), numpy
    scalars, and numpy 2's per-type dtype classes but object and void, which
    could hold any Python object."""
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
    """The globals (``module.name``, sorted) that made torch's weights_only
    loader refuse ``filename``: every one the pickle names where torch can
    list them (its zip format), else the one its error names; empty when the
    refusal is not about a global (a file that is no checkpoint).

    Args:
        filename (str): The checkpoint torch refused.
        err (pickle.UnpicklingError): torch's error.
    """
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except (ValueError, RuntimeError):  # the legacy (non-zip) format, a damaged archive
        found = []
    return sorted(set(found) or set(re.findall(r'GLOBAL ([\w.]+)', str(err))))


def _weights_only_detail(err: pickle.UnpicklingError) -> str:
    """What torch's weights_only loader stopped at, without its advice."""
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
    """``torch.load`` a local checkpoint with ``weights_only=True``, or without
    the check (and a warning) under ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``.

    Args:
        filename (str): The checkpoint file.
        map_location: As :func:`torch.load`'s.

    Raises:
        CheckpointNotFoundError: ``filename`` is not a file.
        UnsafeCheckpointError: the file pickles a global outside
            :func:`mmengine_checkpoint_globals` and torch's safe set.
        pickle.UnpicklingError: the file is not a torch checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointNotFoundError(f'checkpoint {filename} can not be found')
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
    """mmengine's loader for local files now."""
    # CheckpointLoader has no public reader of its table; restoring exactly the
    # previous loader needs it
    return CheckpointLoader._schemes['']


def enable_safe_checkpoint_loading() -> None:
    """Make mmengine load local checkpoints (``resume``, ``load_from``,
    ``Pretrained``, the hosts' ``init_model``) through
    :func:`load_from_local_safely` for the rest of the process; remote schemes
    keep mmengine's loaders. Library code uses :func:`safe_checkpoint_loading`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local_safely)


def disable_safe_checkpoint_loading() -> None:
    """Give mmengine back its own loader for local files (``load_from_local``),
    undoing :func:`enable_safe_checkpoint_loading`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)


@contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """Load local checkpoints through :func:`load_from_local_safely` inside the
    block only; on leaving it, however, the loader registered before is back.

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
