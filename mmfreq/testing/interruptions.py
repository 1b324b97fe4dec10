"""Hooks that interrupt a training run at a chosen point, for the tests of
atomic checkpoints, resuming and preemption. Not part of the user API: a
config names them by import path, e.g.
``custom_hooks = [dict(type='mmfreq.testing.interruptions.SignalHook', iteration=3)]``."""
import os
import signal
from typing import Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmfreq.utils import atomic_save

#: The exit status of a process killed by SIGKILL, as a shell reports it.
KILLED_EXIT_CODE = 128 + signal.SIGKILL


class SignalHook(Hook):
    """Send a signal to this process while training iteration ``iteration``
    (1-based) runs, as a scheduler would.

    Args:
        iteration (int): The iteration during which the signal arrives.
        signal_name (str): e.g. ``'SIGTERM'``, ``'SIGUSR1'``.
        rank (int, optional): Only this rank signals itself (all when None).
    """

    def __init__(self, iteration: int, signal_name: str = 'SIGTERM',
                 rank: Optional[int] = None) -> None:
        self.iteration = iteration
        self.signal = signal.Signals[signal_name]
        self.rank = rank

    def before_train_iter(self, runner: Runner, batch_idx: int,
                          data_batch: object = None) -> None:
        if runner.iter + 1 == self.iteration and self.rank in (None, get_rank()):
            os.kill(os.getpid(), self.signal)


class KillDuringSaveHook(Hook):
    """End the process abruptly (``os._exit``, as SIGKILL would) in the middle
    of writing the checkpoint of iteration ``iteration``: half of the file's
    bytes are in its temporary file, nothing is renamed.

    Args:
        iteration (int): The iteration whose checkpoint save is killed.
    """

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if checkpoint['meta'].get('iter') != self.iteration:
            return

        def write_half_then_die(path: str, data: bytes) -> None:
            with atomic_save.atomic_output(path) as file:
                file.write(data[:len(data) // 2])
                file.flush()
                os._exit(KILLED_EXIT_CODE)

        # the next file the atomic backend writes is this checkpoint
        atomic_save.write_file_atomically = write_half_then_die
