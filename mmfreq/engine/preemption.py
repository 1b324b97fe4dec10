"""Stopping a training run cleanly when the cluster preempts it (SIGTERM, or
SIGUSR1 before a time limit): see "Preemption" in docs/reliability.md."""
import os
import signal
import sys
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Sequence

import torch
from mmengine.dist import all_reduce, barrier, is_distributed
from mmengine.hooks import Hook
from mmengine.runner import Runner

from .atomic_checkpoint_hook import AtomicCheckpointHook

__all__ = ['PREEMPTED_EXIT_CODE', 'PREEMPTED_FILE_ENV', 'PreemptionHook', 'TrainingPreempted',
           'exit_preempted']

#: The exit status of a run stopped by a preemption signal after saving its
#: checkpoint: ``EX_TEMPFAIL`` of sysexits.h ("temporary failure, try again
#: later"), distinct from 0 (finished) and 1 (an error).
PREEMPTED_EXIT_CODE = 75
#: A file a launcher (tools/dist_train.sh) names for the workers to say why they
#: stopped: torchrun reports any non-zero status as a failure of its own.
PREEMPTED_FILE_ENV = 'MMFREQ_PREEMPTED_FILE'


class TrainingPreempted(Exception):
    """Training stopped on a preemption signal, after saving a checkpoint.

    Args:
        signal_name (str): ``'SIGTERM'`` or ``'SIGUSR1'``.
        iteration (int): The iterations done (those of the checkpoint).
        checkpoint (str, optional): The checkpoint written; None when the
            run has no :class:`AtomicCheckpointHook`.
    """

    def __init__(self, signal_name: str, iteration: int, checkpoint: Optional[str]) -> None:
        saved = (f'saved {checkpoint}; continue with tools/train.py CONFIG --resume'
                 if checkpoint else 'no checkpoint saved (the run has no AtomicCheckpointHook)')
        super().__init__(f'{signal_name} received: training stopped after iteration {iteration}, '
                         f'{saved} (exit code {PREEMPTED_EXIT_CODE})')
        self.signal_name = signal_name
        self.iteration = iteration
        self.checkpoint = checkpoint


class PreemptionHook(Hook):
    """On a signal, finish the iteration, save a resumable checkpoint through
    the run's :class:`AtomicCheckpointHook` and raise :class:`TrainingPreempted`;
    the ranks of a distributed run agree on the signal with one all-reduce per
    iteration. :meth:`handling_signals` installs the handlers before
    mmengine starts the data-loader workers, which then record a signal
    instead of dying of it.

    Args:
        signals (Sequence[str]): The signals that stop training.
    """

    priority = 'LOWEST'  # after the checkpoint hook (VERY_LOW) in after_train_iter

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGUSR1')) -> None:
        self.signals = [signal.Signals[name] for name in signals]
        self.received = 0  # the number of the first signal received, 0 for none
        self._previous: Dict[signal.Signals, object] = {}

    def _record(self, signum: int, frame: object) -> None:
        self.received = self.received or signum

    def install(self) -> None:
        """Install the handlers (once; the signals recorded so far are forgotten).

        Raises:
            ValueError: outside the main thread, where Python cannot handle signals.
        """
        if self._previous:
            return
        self.received = 0
        try:
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._record)
        except ValueError:
            self.restore()
            raise

    def restore(self) -> None:
        """Put back the signal handlers that were there before :meth:`install`."""
        while self._previous:
            sig, handler = self._previous.popitem()
            signal.signal(sig, handler)

    @contextmanager
    def handling_signals(self) -> Iterator[None]:
        """Handle the signals inside the block (around ``runner.train()``);
        the previous handlers are back on leaving it, however it is left."""
        self.install()
        try:
            yield
        finally:
            self.restore()

    def before_run(self, runner: Runner) -> None:
        try:
            self.install()
        except ValueError:
            runner.logger.warning('training runs outside the main thread: preemption signals '
                                  'are not handled')

    def after_run(self, runner: Runner) -> None:
        self.restore()

    def _agreed_signal(self) -> int:
        if not is_distributed():
            return self.received
        flag = torch.tensor([self.received], dtype=torch.int64)
        all_reduce(flag, op='max')
        return int(flag.item())

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch: object = None,
                         outputs: Optional[dict] = None) -> None:
        """Stop after this iteration if any rank was signalled.

        Raises:
            TrainingPreempted: once the checkpoint is written.
        """
        signum = self._agreed_signal()
        if not signum:
            return
        savers = [hook for hook in runner.hooks if isinstance(hook, AtomicCheckpointHook)]
        checkpoint = savers[0].save_now(runner) if savers else None
        if is_distributed():
            barrier()  # no rank leaves (and gets its launcher to kill the others) before the save
        self.restore()
        stopped = TrainingPreempted(signal.Signals(signum).name, runner.iter + 1, checkpoint)
        runner.logger.warning(str(stopped))
        raise stopped


def exit_preempted(stopped: TrainingPreempted) -> None:
    """End a tool that was ``stopped``: ``preempted: ...`` on stderr and in the
    file ``$MMFREQ_PREEMPTED_FILE`` names (if set), exit status
    :data:`PREEMPTED_EXIT_CODE`."""
    line = f'preempted: {stopped}'
    print(line, file=sys.stderr)
    if os.environ.get(PREEMPTED_FILE_ENV):
        with open(os.environ[PREEMPTED_FILE_ENV], 'w') as file:
            file.write(line)
    sys.exit(PREEMPTED_EXIT_CODE)
