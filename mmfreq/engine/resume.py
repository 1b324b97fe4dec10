"""Resuming a training run from what survived it: the plan of what a run
starts from, the newest checkpoint that reads, and :class:`ResumeCheckHook`,
which checks it against the config before mmengine loads it."""
import ast
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.runner import Runner

from mmfreq.errors import UserError
from mmfreq.utils.weights import CheckpointError, diff_keys, read_checkpoint, state_dict_of

from .atomic_checkpoint_hook import LAST_CHECKPOINT

__all__ = ['RESUME_NEWEST', 'ResumeCheckHook', 'ResumeError', 'ResumePlan', 'ResumePoint',
           'find_resume_point', 'plan_resume', 'resume_candidates', 'resume_point']

#: ``--resume`` without a path: the newest checkpoint of the work directory that can be read.
RESUME_NEWEST = 'auto'
#: The names mmengine's CheckpointHook gives interval checkpoints.
CHECKPOINT_NAME = re.compile(r'^(iter|epoch)_\d+\.pth$')


class ResumeError(RuntimeError, UserError):
    """No checkpoint to resume from can be read."""


@dataclass
class ResumePoint:
    """The checkpoint a run resumes from.

    Args:
        path (str): Its file.
        checkpoint (dict): Its content, as read (dropped once checked).
        skipped (list[tuple[str, str]]): Newer files that could not be
            read, with the reason.
    """

    path: str
    checkpoint: Optional[dict]
    skipped: List[Tuple[str, str]] = field(default_factory=list)


def _read(path: str) -> Tuple[Optional[dict], str]:
    """``(checkpoint, '')``, or ``(None, why it cannot be read)``."""
    try:
        return read_checkpoint(path), ''
    except FileNotFoundError:
        return None, 'no such file'
    except CheckpointError as err:
        return None, err.reason


def resume_candidates(folder: str) -> List[str]:
    """The checkpoints of a work directory, each once, in the order a resume
    tries them: the one ``last_checkpoint`` names, then ``iter_*.pth`` /
    ``epoch_*.pth``, newest first."""
    paths = []
    pointer = osp.join(folder, LAST_CHECKPOINT)
    if osp.isfile(pointer):
        with open(pointer) as file:
            named = file.read().strip()
        if named:
            paths.append(named)
    if osp.isdir(folder):
        found = [osp.join(folder, name) for name in os.listdir(folder)
                 if CHECKPOINT_NAME.match(name)]
        paths += sorted(found, key=osp.getmtime, reverse=True)
    unique: Dict[str, str] = {}
    for path in paths:
        unique.setdefault(osp.realpath(path), path)
    return list(unique.values())


def find_resume_point(folder: str, exclude: Sequence[str] = ()) -> Optional[ResumePoint]:
    """The newest checkpoint in ``folder`` that can be read, but ``exclude``;
    None when the folder has no checkpoint at all.

    Raises:
        ResumeError: every checkpoint there is unreadable (each named, with why).
    """
    excluded = {osp.realpath(path) for path in exclude}
    tried = []
    for path in resume_candidates(folder):
        if osp.realpath(path) in excluded:
            continue
        checkpoint, why = _read(path)
        if checkpoint is not None:
            return ResumePoint(path, checkpoint, tried)
        tried.append((path, why))
    if tried:
        raise ResumeError(f'cannot resume: no checkpoint in {folder} can be read: '
                          + '; '.join(f'{path} ({why})' for path, why in tried))
    return None


def resume_point(path: Optional[str], work_dir: str) -> Optional[ResumePoint]:
    """The checkpoint ``--resume [PATH]`` resumes from, read.

    Args:
        path (str, optional): The file asked for; None for the newest readable
            one in ``work_dir`` (:func:`find_resume_point`).
        work_dir (str): The run's work directory.

    Returns:
        ResumePoint | None: None when ``path`` is None and ``work_dir`` has
        no checkpoint: the run starts from the beginning.

    Raises:
        ResumeError: ``path`` cannot be read (naming it and the newest intact
            checkpoint beside it), or nothing in ``work_dir`` can.
    """
    if path is None:
        return find_resume_point(work_dir)
    checkpoint, why = _read(path)
    if checkpoint is not None:
        return ResumePoint(path, checkpoint)
    try:
        intact = find_resume_point(osp.dirname(osp.abspath(path)), exclude=[path])
    except ResumeError:
        intact = None
    instead = (f'the newest intact checkpoint beside it is {intact.path}: resume with --resume '
               f'{intact.path}' if intact else 'no other checkpoint beside it can be read')
    raise ResumeError(f'cannot resume from {path} ({why}); {instead}')


def _nothing_to_resume(work_dir: str) -> str:
    return f'--resume: no checkpoint in {work_dir}; training starts at iteration 0'


@dataclass
class ResumePlan:
    """What a training run starts from, and why.

    Args:
        reason (str): What it starts from and why, for the log.
        resuming (bool): ``--resume`` was given, or the config sets ``resume=True``.
        point (ResumePoint, optional): The checkpoint it resumes from; None
            when not resuming, or when the work directory has none.
        fine_tune_from (str, optional): The config's ``load_from`` when not resuming.
    """

    reason: str
    resuming: bool = False
    point: Optional[ResumePoint] = None
    fine_tune_from: Optional[str] = None

    def apply(self, cfg: Config) -> None:
        """Set ``cfg.resume`` and ``cfg.load_from`` for mmengine's runner: it
        loads the resume point itself; fine-tuning is left to
        :class:`~mmfreq.engine.checkpoint_load_hook.CheckpointLoadHook`."""
        cfg.resume = self.point is not None
        cfg.load_from = self.point.path if self.point else None


def plan_resume(resume: Optional[str], cfg: Config) -> ResumePlan:
    """Decide what a training run starts from, reading the checkpoint it would resume from.

    Args:
        resume (str, optional): ``--resume``'s value: a checkpoint,
            :data:`RESUME_NEWEST`, or None when not given.
        cfg (Config): The run's config; its ``resume``, ``load_from`` and
            ``work_dir`` are read.

    Returns:
        ResumePlan: The plan.

    Raises:
        ResumeError: see :func:`resume_point`.
    """
    load_from = cfg.get('load_from')
    if resume:
        path, asked = None if resume == RESUME_NEWEST else resume, '--resume'
    elif cfg.get('resume'):
        path, asked = load_from, 'resume=True in the config'
    elif load_from:
        return ResumePlan(f'fine-tuning from {load_from} (load_from in the config)',
                          fine_tune_from=load_from)
    else:
        return ResumePlan("training from the model's initialisation (no --resume, no load_from)")
    point = resume_point(path, cfg.work_dir)
    if point is None:
        reason = _nothing_to_resume(cfg.work_dir)
    elif path is None:
        reason = (f'resuming from {point.path}, the newest checkpoint in {cfg.work_dir} that can '
                  f'be read ({asked})')
    else:
        reason = f'resuming from {point.path} ({asked})'
    return ResumePlan(reason, True, point)


def _literal(node: ast.AST) -> object:
    """The value of a config expression made of literals and ``dict(...)``
    calls, evaluated without running any code (a checkpoint's text is data)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict' \
            and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item) for item in node.elts]
    return ast.literal_eval(node)


def _flat(value: object, prefix: str) -> Dict[str, object]:
    """``{'a.b.0': leaf, ...}`` of nested dicts and lists (tuples read as lists)."""
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, (list, tuple)) and value:
        items = enumerate(value)
    else:
        return {prefix: [] if isinstance(value, tuple) else value}
    flat = {}
    for key, item in items:
        flat.update(_flat(item, f'{prefix}.{key}'))
    return flat


class _Unset:
    def __repr__(self) -> str:
        return "'unset'"


_UNSET = _Unset()


def config_changes(checkpoint: dict, cfg: object, key: str, limit: int = 4) -> List[str]:
    """How ``cfg[key]`` differs from the config a checkpoint was saved with
    (``meta['cfg']``, the text mmengine's runner saves), ``'k: old -> new'``
    for the first ``limit`` leaves; empty when unknown or unchanged.

    Args:
        checkpoint (dict): The checkpoint.
        cfg (Config): The config now.
        key (str): A top-level key, e.g. ``'model'``.
        limit (int): Leaves named.
    """
    text = (checkpoint.get('meta') or {}).get('cfg')
    try:
        tree = ast.parse(text) if isinstance(text, str) else None
        then = next((_literal(node.value) for node in (tree.body if tree else [])
                     if isinstance(node, ast.Assign) and len(node.targets) == 1
                     and getattr(node.targets[0], 'id', None) == key), None)
    except (SyntaxError, ValueError, TypeError):
        return []
    if then is None:
        return []
    now = cfg.get(key)
    before = _flat(then, key)
    after = _flat(now.to_dict() if hasattr(now, 'to_dict') else now, key)
    changed = [k for k in dict.fromkeys([*before, *after])
               if before.get(k, _UNSET) != after.get(k, _UNSET)]
    more = [f'... ({len(changed)} in all)'] if len(changed) > limit else []
    return [f'{k}: {before.get(k, _UNSET)!r} -> {after.get(k, _UNSET)!r}'
            for k in changed[:limit]] + more


def _changed_since(checkpoint: dict, cfg: object, keys: Sequence[str]) -> str:
    changes = [c for key in keys for c in config_changes(checkpoint, cfg, key)]
    return (f'The config changed since the run began ({", ".join(changes)})' if changes else
            'The config changed since the run began')


def optimizer_mismatch(runner: Runner, state: object) -> List[str]:
    """What keeps an optimizer state from fitting the runner's built optimizer
    (or each of an ``OptimWrapperDict``'s): other parameter groups or group
    sizes, which torch would refuse after the model was loaded.

    Args:
        runner (Runner): A runner whose optimizer is built (``before_run``).
        state (dict): The checkpoint's ``optimizer`` entry.
    """
    wrapper = runner.optim_wrapper
    if isinstance(wrapper, OptimWrapperDict):
        pairs = [(f'optimizer {name!r}', item, (state or {}).get(name))
                 for name, item in wrapper.items()]
    elif isinstance(wrapper, OptimWrapper):
        pairs = [('optimizer', wrapper, state)]
    else:
        return []
    problems = []
    for name, item, saved in pairs:
        if not isinstance(saved, dict):
            problems.append(f'{name}: no state in the file')
            continue
        theirs = [len(group['params']) for group in saved.get('param_groups', [])]
        ours = [len(group['params']) for group in item.optimizer.param_groups]
        if theirs != ours:
            problems.append(f'{name}: {len(theirs)} parameter groups of {theirs} parameters in '
                            f'the file, {len(ours)} of {ours} built from the config')
    return problems


def scheduler_mismatch(runner: Runner, states: object) -> List[str]:
    """What keeps saved parameter-scheduler states from fitting the runner's
    schedulers: another number of them, or another kind (its state has other
    fields). mmengine would load what pairs up and drop the rest silently.

    Args:
        runner (Runner): A runner whose schedulers are built (``before_run``).
        states (list | dict): The checkpoint's ``param_schedulers`` entry.
    """
    built = runner.param_schedulers
    if built is None or states is None:
        return []
    if isinstance(built, dict):
        groups = [(f'param_scheduler {name!r}', item, (states or {}).get(name) or [])
                  for name, item in built.items()]
    else:
        groups = [('param_scheduler', built, states)]
    problems = []
    for name, ours, theirs in groups:
        kinds = ', '.join(type(scheduler).__name__ for scheduler in ours)
        if len(theirs) != len(ours):
            problems.append(f'{name}: {len(theirs)} schedulers in the file, {len(ours)} built '
                            f'from the config ({kinds})')
            continue
        for index, (scheduler, state) in enumerate(zip(ours, theirs)):
            fields = set(scheduler.state_dict()) ^ set(state)
            if fields:
                problems.append(f'{name} {index} ({type(scheduler).__name__}): the saved state '
                                f'differs in {", ".join(sorted(fields))}')
    return problems


class ResumeCheckHook(Hook):
    """Check the checkpoint a run resumes from against what the config built,
    before mmengine loads it (at the end of ``before_run``), and log the
    newer files that were skipped as unreadable.

    Args:
        point (ResumePoint, optional): From :func:`resume_point`; None when
            there was nothing to resume (the log says so).
        work_dir (str): The work directory, for that log line.
    """

    priority = 'VERY_HIGH'

    def __init__(self, point: Optional[ResumePoint], work_dir: str) -> None:
        self.point = point
        self.work_dir = work_dir

    def before_run(self, runner: Runner) -> None:
        """Log what was skipped, then check the checkpoint.

        Raises:
            CheckpointError: naming the file, what does not fit (the first
                keys, parameter groups or schedulers) and the config keys
                that changed since the checkpoint was saved.
        """
        if self.point is None:
            runner.logger.info(_nothing_to_resume(self.work_dir))
            return
        path, checkpoint = self.point.path, self.point.checkpoint
        for skipped, why in self.point.skipped:
            runner.logger.warning(f'--resume: skipped {skipped}, which cannot be read ({why})')
        if self.point.skipped:
            runner.logger.warning(f'--resume: resuming from {path}, the newest checkpoint that '
                                  'can be read')
        self.point.checkpoint = None  # mmengine reads the file itself
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        meta = checkpoint.get('meta') or {}
        layout = f'an mmengine training checkpoint of iteration {meta.get("iter")}'
        diff = diff_keys(model.state_dict(), state_dict_of(checkpoint))
        mismatch = diff.problems()
        if mismatch:
            raise CheckpointError(
                f'cannot resume from {path}: it does not fit the model {type(model).__name__} '
                f'(read as {layout}): {"; ".join(mismatch)}. '
                f'{_changed_since(checkpoint, runner.cfg, ["model"])}: resume with the config '
                "the run began with (the checkpoint's meta['cfg']); nothing was loaded",
                path, layout, diff.misfits(), '; '.join(mismatch))
        mismatch = (optimizer_mismatch(runner, checkpoint['optimizer'])
                    if 'optimizer' in checkpoint else [])
        mismatch += scheduler_mismatch(runner, checkpoint.get('param_schedulers'))
        if mismatch:
            changed = _changed_since(checkpoint, runner.cfg, ['optim_wrapper', 'param_scheduler'])
            raise CheckpointError(
                f'cannot resume from {path}: its optimizer state does not fit the one built from '
                f'the config: {"; ".join(mismatch)}. {changed}: resume with the config the run '
                "began with (the checkpoint's meta['cfg']); nothing was loaded",
                path, layout, reason='; '.join(mismatch))
