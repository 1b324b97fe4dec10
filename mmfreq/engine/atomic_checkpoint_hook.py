"""mmengine's checkpoint hook with saves that survive a kill at any moment."""
import hashlib
import os.path as osp
import pickle
from typing import Dict, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.dist import is_main_process, master_only
from mmengine.hooks import CheckpointHook
from mmengine.runner import CheckpointLoader, Runner

from mmfreq.utils.atomic_save import (
    ATOMIC_BACKEND_ARGS,
    save_checkpoint_atomically,
    unfinished_saves,
    write_file_atomically,
)

__all__ = ['ATOMIC_CHECKPOINT_HOOK', 'AtomicCheckpointHook', 'use_atomic_checkpoints']

#: The name a config gives :class:`AtomicCheckpointHook` (mmengine builds a
#: ``type`` given as a full import path; mmfreq has no hook registry).
ATOMIC_CHECKPOINT_HOOK = 'mmfreq.engine.atomic_checkpoint_hook.AtomicCheckpointHook'
#: The private methods of mmengine's ``CheckpointHook`` that
#: :class:`AtomicCheckpointHook` overrides or calls, with their parameters. A
#: test compares them with the installed mmengine: a renamed one would
#: silently bypass the atomic save.
MMENGINE_PRIVATE_METHODS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ('_publish_model', ('self', 'runner', 'ckpt_path')),
    ('_save_best_checkpoint', ('self', 'runner', 'metrics')),
    ('_save_checkpoint', ('self', 'runner')),
    ('_save_checkpoint_with_step', ('self', 'runner', 'step', 'meta')),
)
#: The file beside the checkpoints that names the newest one (mmengine's name).
LAST_CHECKPOINT = 'last_checkpoint'


class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` whose files survive a kill at any moment.

    - Interval, last, best and published checkpoints are written to a
      temporary file in their folder, synced and renamed into place
      (:class:`~mmfreq.utils.atomic_save.AtomicLocalBackend`).
    - ``last_checkpoint`` is rewritten the same way, after the checkpoint it
      names is in place.
    - Checkpoints that fall out of ``max_keep_ckpts``, and the previous best
      checkpoint, are removed after the new one is in place (mmengine removes
      them first, so a kill in between can leave nothing to resume from).
    - Temporary files of saves that a kill interrupted are removed when
      training starts, and the log names them.

    Takes mmengine's ``CheckpointHook`` arguments. A config that sets
    ``backend_args`` or ``file_client_args``, or an ``out_dir`` with a URI
    prefix (``s3://``), keeps that backend: those saves are not atomic.
    """

    def __init__(self, interval: int = -1, by_epoch: bool = True, **kwargs) -> None:
        self.atomic = (kwargs.get('backend_args') is None
                       and kwargs.get('file_client_args') is None
                       and '://' not in str(kwargs.get('out_dir') or ''))
        if self.atomic:
            kwargs['backend_args'] = dict(ATOMIC_BACKEND_ARGS)
        super().__init__(interval, by_epoch, **kwargs)

    def before_train(self, runner: Runner) -> None:
        super().before_train(runner)
        if not self.atomic:
            runner.logger.warning(f'checkpoints go through backend_args={self.backend_args} / '
                                  f'file_client_args={self.file_client_args}: a kill during a '
                                  'save can leave a truncated file')
        elif is_main_process():
            for folder in {str(self.out_dir), runner.work_dir}:
                for temp in unfinished_saves(folder):
                    self.file_backend.remove(temp)
                    runner.logger.info(f'removed {temp}, left by a save that was interrupted')

    def save_now(self, runner: Runner) -> str:
        """Save a resumable checkpoint of the iteration that just ended (from
        ``after_train_iter``), unless this hook saved it already.

        By-epoch runs save ``iter_<N>.pth`` with ``meta['epoch']`` the epoch
        under way: mmengine resumes them at the start of that epoch.

        Returns:
            str: The checkpoint's path.
        """
        step = runner.iter + 1
        if self.by_epoch:
            filename = f'iter_{step}.pth'
            self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
            runner.save_checkpoint(
                self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=dict(epoch=runner.epoch, iter=step), by_epoch=False,
                backend_args=self.backend_args, **self.args)
            self._point_at_last(runner)
        elif self.last_ckpt != self.file_backend.join_path(self.out_dir,
                                                           self.filename_tmpl.format(step)):
            self._save_checkpoint(runner)
        return str(self.last_ckpt)

    @master_only
    def _publish_model(self, runner: Runner, ckpt_path: str) -> None:
        """Write ``<checkpoint>-<sha256[:8]>.pth`` with only ``published_keys``
        (mmengine's naming: the hash of the pickled result), atomically."""
        if not self.atomic:
            super()._publish_model(runner, ckpt_path)
            return
        checkpoint = CheckpointLoader.load_checkpoint(ckpt_path, map_location='cpu')
        published = {k: v for k, v in checkpoint.items() if k in self.published_keys}
        left_out = [k for k in checkpoint if k not in published]
        digest = hashlib.sha256(pickle.dumps(published)).hexdigest()[:8]
        final_path = f'{osp.splitext(ckpt_path)[0]}-{digest}.pth'
        save_checkpoint_atomically(published, final_path)
        runner.logger.info(f'The checkpoint ({ckpt_path}) is published to {final_path}'
                           + (f' without {", ".join(left_out)}' if left_out else ''))

    def _point_at_last(self, runner: Runner) -> None:
        if is_main_process():
            write_file_atomically(osp.join(runner.work_dir, LAST_CHECKPOINT),
                                  str(self.last_ckpt).encode())

    def _remove(self, path: str) -> None:
        if not is_main_process():
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # DeepSpeed saves folders
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner: Runner, step: int, meta: dict) -> None:
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(self.keep_ckpt_ids.popleft())))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        self._point_at_last(runner)
        for path in outdated:
            self._remove(path)

    def _best_paths(self) -> Dict[Optional[str], Optional[str]]:
        if self.save_best and len(self.save_best) > 1:
            return dict(self.best_ckpt_path_dict)
        return {None: getattr(self, 'best_ckpt_path', None)}

    def _set_best_paths(self, paths: Dict[Optional[str], Optional[str]]) -> None:
        for key, path in paths.items():
            if key is None:
                self.best_ckpt_path = path
            else:
                self.best_ckpt_path_dict[key] = path

    def _save_best_checkpoint(self, runner: Runner, metrics: dict) -> None:
        if not self.save_best:
            return
        # mmengine removes the previous best before saving the new one: hide
        # it, then remove it once the new one is in place.
        previous = self._best_paths()
        self._set_best_paths(dict.fromkeys(previous))
        try:
            super()._save_best_checkpoint(runner, metrics)
        except BaseException:
            self._set_best_paths(previous)  # the new best may not have been written
            raise
        current = self._best_paths()
        for key, old in previous.items():
            if current.get(key) is None:  # not better this time
                self._set_best_paths({key: old})
            elif old and old != current[key]:
                self._remove(old)
                runner.logger.info(f'The previous best checkpoint {old} is removed')


def use_atomic_checkpoints(cfg: Config) -> None:
    """Make a config's checkpoint hook an :class:`AtomicCheckpointHook`, with
    its arguments kept (mmengine's default ``interval=1`` when the config has
    none; a hook switched off with ``checkpoint=None`` stays off, and a
    checkpoint hook of another type is kept).

    Args:
        cfg (Config): The full config, changed in place.
    """
    hooks = cfg.setdefault('default_hooks', ConfigDict())
    if 'checkpoint' not in hooks:
        hooks.checkpoint = ConfigDict(type=ATOMIC_CHECKPOINT_HOOK, interval=1)
    elif hooks.checkpoint is not None and hooks.checkpoint.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook', CheckpointHook):
        hooks.checkpoint.type = ATOMIC_CHECKPOINT_HOOK
