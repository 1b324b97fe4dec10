"""Files written whole or not at all (a temporary file beside the target,
synced, then renamed over it), and mmengine's file backend that writes so:
``backend_args=ATOMIC_BACKEND_ARGS``. How and why: "Checkpoints are written
whole or not at all" in docs/reliability.md."""
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
    """A temporary file beside ``path``, open for binary writing, renamed to
    ``path`` when the block ends without an error (removed when it does not).
    The file gets a plain ``open``'s permissions; missing folders are created."""
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
    """Write ``data`` to ``path`` through :func:`atomic_output`."""
    with atomic_output(path) as file:
        file.write(data)


def unfinished_saves(folder: Union[str, Path]) -> List[str]:
    """The temporary files (sorted paths) that interrupted atomic writes left
    in ``folder``; none when it does not exist."""
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
    """Save ``checkpoint`` to the local ``filename`` as mmengine's runner does,
    atomically: the one save function of mmfreq's tools."""
    save_checkpoint(checkpoint, os.fspath(filename), backend_args=dict(ATOMIC_BACKEND_ARGS))
