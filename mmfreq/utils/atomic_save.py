"""Files written whole or not at all: checkpoints, their ``last_checkpoint``
pointer and converted weights.

A file is written to a temporary name in its own folder, flushed to disk
(``fsync``), then renamed over the final name (``os.replace``, atomic on
POSIX file systems within one folder). A process killed at any moment
leaves either the previous file or the new one, never a truncated one; an
interrupted write leaves only a hidden ``.NAME.<pid>.<random>.tmp`` beside it
(:func:`unfinished_saves` finds them).

mmengine writes checkpoints through a file backend's ``put``
(``mmengine.runner.save_checkpoint`` -> ``get_file_backend().put``), so the
runner, its ``CheckpointHook`` and any caller of ``save_checkpoint`` write
atomically when given ``backend_args=ATOMIC_BACKEND_ARGS``
(:class:`AtomicLocalBackend`, registered with mmengine under
:data:`ATOMIC_BACKEND` when this module is imported; no other backend changes).
"""
import os
import os.path as osp
import re
import secrets
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, Iterator, List, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner import save_checkpoint

#: The name of :class:`AtomicLocalBackend` in mmengine's file backends.
ATOMIC_BACKEND = 'mmfreq_atomic_local'
#: ``backend_args`` that make mmengine save through :class:`AtomicLocalBackend`.
ATOMIC_BACKEND_ARGS = {'backend': ATOMIC_BACKEND}

# .<final name>.<pid>.<random hex>.tmp
_TEMP_NAME = re.compile(r'^\.(?P<final>.+)\.\d+\.[0-9a-f]+\.tmp$')


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be synced)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_output(path: Union[str, Path]) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for writing; on leaving the block
    without an error it is flushed, synced and renamed to ``path``.

    On an error the temporary file is removed and ``path`` is untouched. The
    file gets the permissions a plain ``open(path, 'wb')`` would (the umask
    applies). Missing folders are created.

    Args:
        path (str | Path): The final file.

    Yields:
        BinaryIO: The temporary file, open for binary writing.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temp = osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp')
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.remove(temp)
        raise
    _fsync_folder(folder)


def write_file_atomically(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_output`.

    Args:
        path (str | Path): The file.
        data (bytes): Its whole content.
    """
    with atomic_output(path) as file:
        file.write(data)


def unfinished_saves(folder: Union[str, Path]) -> List[str]:
    """The temporary files that interrupted atomic writes left in ``folder``.

    Args:
        folder (str | Path): A folder (absent: none).

    Returns:
        list[str]: Their paths, sorted.
    """
    folder = os.fspath(folder)
    if not osp.isdir(folder):
        return []
    return sorted(osp.join(folder, name) for name in os.listdir(folder) if _TEMP_NAME.match(name))


@register_backend(ATOMIC_BACKEND, force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic
    (:func:`write_file_atomically`); reading, listing and removing are
    :class:`mmengine.fileio.LocalBackend`'s."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_file_atomically(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_file_atomically(filepath, obj.encode(encoding))


def save_checkpoint_atomically(checkpoint: dict, filename: Union[str, Path]) -> None:
    """Save a checkpoint as mmengine's runner does, atomically: the one save
    function of mmfreq's tools (``mmengine.runner.save_checkpoint`` through
    :class:`AtomicLocalBackend`).

    Args:
        checkpoint (dict): What to save (``state_dict``, ``meta``, ...).
        filename (str | Path): The local file.
    """
    save_checkpoint(checkpoint, os.fspath(filename), backend_args=dict(ATOMIC_BACKEND_ARGS))
