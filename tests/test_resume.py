"""Atomic checkpoints (mmfreq.utils.atomic_save, AtomicCheckpointHook) and
resuming from what survives (mmfreq.engine.resume), in-process on a toy run;
the built-in scenes end to end through tools/train.py (slow)."""
import os
import re
import stat

import pytest
import torch
from mmengine.config import Config

from mmfreq.engine.atomic_checkpoint_hook import (
    ATOMIC_CHECKPOINT_HOOK,
    AtomicCheckpointHook,
    use_atomic_checkpoints,
)
from mmfreq.engine.resume import (
    ResumeCheckHook,
    ResumeError,
    config_changes,
    find_resume_point,
    resume_point,
)
from mmfreq.testing.interruptions import KILLED_EXIT_CODE
from mmfreq.testing.tools import SYNTHETIC_CONFIG, run_tool, small_run_options
from mmfreq.testing.toy_runner import toy_runner
from mmfreq.utils import atomic_save
from mmfreq.utils.safe_unpickling import safe_checkpoint_loading
from mmfreq.utils.weights import CheckpointError, read_checkpoint, save_weights


@pytest.fixture(autouse=True)
def safe_loading():
    """mmengine checkpoints need mmfreq's loader under torch >= 2.6, as in the tools."""
    with safe_checkpoint_loading():
        yield


class SaveKilled(Exception):
    pass


def half_write(path, data):
    """A write that stops half way, as a kill would (an exception here)."""
    with atomic_save.atomic_output(path) as file:
        file.write(data[:len(data) // 2])
        raise SaveKilled(path)


@pytest.fixture
def kill_next_save(monkeypatch):
    monkeypatch.setattr(atomic_save, 'write_file_atomically', half_write)


def test_atomic_output_replaces_the_file_only_when_complete(tmp_path):
    path = tmp_path / 'deep' / 'file.bin'
    atomic_save.write_file_atomically(path, b'old')
    with pytest.raises(SaveKilled):
        with atomic_save.atomic_output(path) as file:
            file.write(b'new but never finished')
            raise SaveKilled()
    assert path.read_bytes() == b'old'
    assert os.listdir(path.parent) == ['file.bin']  # the temporary file is gone
    atomic_save.write_file_atomically(path, b'new')
    assert path.read_bytes() == b'new'


def test_atomic_files_get_the_permissions_of_a_plain_write(tmp_path):
    plain = tmp_path / 'plain'
    plain.write_bytes(b'x')
    atomic_save.write_file_atomically(tmp_path / 'atomic', b'x')
    assert stat.S_IMODE((tmp_path / 'atomic').stat().st_mode) == stat.S_IMODE(
        plain.stat().st_mode)


def test_unfinished_saves_are_found(tmp_path):
    (tmp_path / '.iter_4.pth.123.0a1b2c3d.tmp').write_bytes(b'half')
    (tmp_path / 'iter_2.pth').write_bytes(b'whole')
    (tmp_path / '.hidden').write_bytes(b'not ours')
    left = tmp_path / '.iter_4.pth.123.0a1b2c3d.tmp'
    assert atomic_save.unfinished_saves(tmp_path) == [str(left)]


def test_converted_checkpoint_is_written_atomically(tmp_path, kill_next_save):
    dst = tmp_path / 'converted.pth'
    dst.write_bytes(b'previous conversion')
    with pytest.raises(SaveKilled):
        save_weights({'w': torch.ones(3)}, str(dst), {'converted_from': 'src.pth'})
    assert dst.read_bytes() == b'previous conversion'
    assert os.listdir(tmp_path) == ['converted.pth']


def test_converted_checkpoint_reads_back(tmp_path):
    dst = tmp_path / 'out' / 'converted.pth'
    save_weights({'w': torch.arange(3.)}, str(dst), {'converted_from': 'src.pth'})
    checkpoint = read_checkpoint(str(dst))
    assert torch.equal(checkpoint['state_dict']['w'], torch.arange(3.))
    assert checkpoint['meta'] == {'converted_from': 'src.pth'}


def test_config_checkpoint_hook_becomes_atomic_with_its_arguments():
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=7,
                                                          max_keep_ckpts=2))))
    use_atomic_checkpoints(cfg)
    assert cfg.default_hooks.checkpoint == dict(type=ATOMIC_CHECKPOINT_HOOK, interval=7,
                                                max_keep_ckpts=2)
    off = Config(dict(default_hooks=dict(checkpoint=None)))
    use_atomic_checkpoints(off)
    assert off.default_hooks.checkpoint is None
    default = Config(dict())
    use_atomic_checkpoints(default)
    assert default.default_hooks.checkpoint == dict(type=ATOMIC_CHECKPOINT_HOOK, interval=1)


def test_a_save_killed_half_way_leaves_the_previous_checkpoint_and_pointer(tmp_path, monkeypatch):
    """With max_keep_ckpts=1 mmengine removes iter_2.pth before writing
    iter_4.pth: a kill in between would leave nothing to resume from."""
    runner = toy_runner(tmp_path, max_iters=4, interval=2, max_keep_ckpts=1)
    hook = next(h for h in runner.hooks if isinstance(h, AtomicCheckpointHook))
    save_with_step = hook._save_checkpoint_with_step

    def kill_at_4(runner, step, meta):
        if step == 4:
            monkeypatch.setattr(atomic_save, 'write_file_atomically', half_write)
        save_with_step(runner, step, meta)

    monkeypatch.setattr(hook, '_save_checkpoint_with_step', kill_at_4)
    with pytest.raises(SaveKilled):
        runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')
    assert read_checkpoint(str(tmp_path / 'iter_2.pth'))['meta']['iter'] == 2


def test_outdated_checkpoints_are_removed_after_the_new_one_is_saved(tmp_path):
    toy_runner(tmp_path, max_iters=6, interval=2, max_keep_ckpts=2).train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_4.pth', 'iter_6.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_6.pth')
    assert not atomic_save.unfinished_saves(tmp_path)


def test_previous_best_checkpoint_survives_a_killed_save_of_the_next(tmp_path, monkeypatch):
    runner = toy_runner(tmp_path)
    hook = AtomicCheckpointHook(interval=2, by_epoch=False, save_best='acc')
    hook.before_train(runner)
    runner.train_loop._iter = 1
    hook._save_best_checkpoint(runner, {'acc': 0.5})
    first = tmp_path / 'best_acc_iter_1.pth'
    assert first.is_file()
    assert read_checkpoint(str(first))['meta']['iter'] == 1

    runner.train_loop._iter = 2
    def killed(path, data):
        raise SaveKilled(path)

    with monkeypatch.context() as patch:
        patch.setattr(atomic_save, 'write_file_atomically', killed)
        with pytest.raises(SaveKilled):
            hook._save_best_checkpoint(runner, {'acc': 0.7})
    assert first.is_file() and hook.best_ckpt_path == str(first)

    hook._save_best_checkpoint(runner, {'acc': 0.8})  # mmengine recorded 0.7 before the save
    assert not first.is_file()
    assert (tmp_path / 'best_acc_iter_2.pth').is_file()


def test_published_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    runner = toy_runner(tmp_path, max_iters=4, interval=4)
    hook = next(h for h in runner.hooks if isinstance(h, AtomicCheckpointHook))
    hook.published_keys = ['meta', 'state_dict']
    runner.train()
    [published] = tmp_path.glob('iter_4-*.pth')
    assert re.fullmatch(r'iter_4-[0-9a-f]{8}\.pth', published.name)
    checkpoint = read_checkpoint(str(published))
    assert set(checkpoint) == {'meta', 'state_dict'}
    assert checkpoint['state_dict'].keys() == runner.model.state_dict().keys()

    published.unlink()
    monkeypatch.setattr(atomic_save, 'write_file_atomically', half_write)
    with pytest.raises(SaveKilled):
        hook.after_train(runner)
    assert not list(tmp_path.glob('iter_4-*')) and not atomic_save.unfinished_saves(tmp_path)


def test_unfinished_saves_are_removed_when_training_starts(tmp_path):
    left = tmp_path / '.iter_4.pth.999.0a1b2c3d.tmp'
    left.write_bytes(b'half a checkpoint')
    toy_runner(tmp_path, max_iters=4, interval=4).train()
    assert not left.exists()
    log = logs(tmp_path)
    assert f'removed {left}, left by a save that was interrupted' in log


def logs(work_dir):
    """The text of every log the runs in ``work_dir`` wrote."""
    return ''.join(path.read_text() for path in sorted(work_dir.glob('*/*.log')))


def checkpoints_of_a_run(tmp_path, max_iters=4):
    toy_runner(tmp_path, max_iters=max_iters, interval=2).train()
    return [tmp_path / f'iter_{i}.pth' for i in range(2, max_iters + 1, 2)]


def test_resume_takes_the_newest_checkpoint_that_reads(tmp_path):
    iter_2, iter_4 = checkpoints_of_a_run(tmp_path)
    iter_4.write_bytes(iter_4.read_bytes()[:1000])
    point = find_resume_point(str(tmp_path))
    assert point.path == str(iter_2) and point.checkpoint['meta']['iter'] == 2
    [(skipped, why)] = point.skipped
    assert skipped == str(iter_4)
    assert why == '1000 bytes: cut short, its zip archive has no end'


def test_resume_passes_over_a_damaged_newest_file_to_the_next_newest(tmp_path):
    """Three checkpoints, the newest (named by last_checkpoint) cut short: the
    one saved just before it is taken, not the oldest."""
    iter_2, iter_4, iter_6 = checkpoints_of_a_run(tmp_path, max_iters=6)
    iter_6.write_bytes(iter_6.read_bytes()[:1000])
    point = find_resume_point(str(tmp_path))
    assert point.path == str(iter_4) and point.checkpoint['meta']['iter'] == 4
    assert [path for path, _ in point.skipped] == [str(iter_6)]


def test_resume_with_nothing_readable_names_every_file(tmp_path):
    for path in checkpoints_of_a_run(tmp_path):
        path.write_bytes(b'')
    with pytest.raises(ResumeError, match=rf'no checkpoint in {tmp_path} can be read: '
                       rf'{tmp_path}/iter_4.pth \(0 bytes, .*\); {tmp_path}/iter_2.pth \(0 bytes'):
        find_resume_point(str(tmp_path))


def test_resume_in_an_empty_work_dir_starts_from_the_beginning(tmp_path):
    assert resume_point(None, str(tmp_path / 'new')) is None


def test_resume_from_a_damaged_file_names_the_newest_intact_one(tmp_path):
    iter_2, iter_4 = checkpoints_of_a_run(tmp_path)
    iter_4.write_bytes(iter_4.read_bytes()[:5000])
    with pytest.raises(ResumeError) as err:
        resume_point(str(iter_4), str(tmp_path))
    message = str(err.value)
    assert message.startswith(f'cannot resume from {iter_4} (5000 bytes: cut short, its zip '
                              'archive has no end); ')
    assert message.endswith(f'the newest intact checkpoint beside it is {iter_2}: resume with '
                            f'--resume {iter_2}')


def resume_runner(tmp_path, point, **kwargs):
    return toy_runner(tmp_path, resume=True, load_from=point.path,
                      hooks=[ResumeCheckHook(point, str(tmp_path))], **kwargs)


def test_resuming_a_checkpoint_of_another_model_stops_before_loading(tmp_path):
    checkpoints_of_a_run(tmp_path)
    point = resume_point(None, str(tmp_path))
    runner = resume_runner(tmp_path, point, width=5)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    with pytest.raises(CheckpointError) as err:
        runner.train()
    message = str(err.value)
    assert message.startswith(f'cannot resume from {tmp_path}/iter_4.pth: it does not fit the '
                              'model ToyRegressor (read as an mmengine training checkpoint of '
                              'iteration 4): 3 shape mismatches: linear.weight (4, 3) in the file, '
                              '(5, 3) in the model, linear.bias')
    assert 'The config changed since the run began (model.width: 4 -> 5)' in message
    after = runner.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert runner.iter == 0


def test_resuming_with_other_parameter_groups_names_them(tmp_path):
    checkpoints_of_a_run(tmp_path)
    runner = resume_runner(tmp_path, resume_point(None, str(tmp_path)), max_iters=4,
                           paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=0.1)}))
    with pytest.raises(CheckpointError) as err:
        runner.train()
    message = str(err.value)
    assert 'its optimizer state does not fit the one built from the config: optimizer: 1 ' \
           'parameter groups of [4] parameters in the file, 4 of [1, 1, 1, 1] built from the ' \
           'config' in message
    assert "The config changed since the run began (optim_wrapper.paramwise_cfg.custom_keys." \
           "head.lr_mult: 'unset' -> 0.1)" in message
    assert runner.iter == 0


def test_resuming_with_other_schedulers_names_them(tmp_path):
    checkpoints_of_a_run(tmp_path)
    runner = resume_runner(tmp_path, resume_point(None, str(tmp_path)), param_scheduler=[
        dict(type='ConstantLR', factor=0.5, by_epoch=False, begin=0, end=3)])
    with pytest.raises(CheckpointError, match=r'param_scheduler: 2 schedulers in the file, 1 '
                       r'built from the config \(ConstantLR\)'):
        runner.train()


def test_resume_logs_the_skipped_files_and_continues(tmp_path):
    iter_2, iter_4 = checkpoints_of_a_run(tmp_path)
    iter_4.write_bytes(iter_4.read_bytes()[:1000])
    runner = resume_runner(tmp_path, resume_point(None, str(tmp_path)))
    runner.train()
    assert runner.iter == 6
    log = logs(tmp_path)
    assert f'--resume: skipped {iter_4}, which cannot be read (1000 bytes' in log
    assert f'--resume: resuming from {iter_2}, the newest checkpoint that can be read' in log
    assert 'resumed epoch: 0, iter: 2' in log


def test_config_changes_are_read_without_running_the_saved_text(tmp_path):
    then = Config(dict(model=dict(backbone=dict(arch='b0', depths=(3, 3)), neck=None)))
    now = Config(dict(model=dict(backbone=dict(arch='b1', depths=[3, 3]), neck=dict(out=2))))
    checkpoint = {'meta': {'cfg': then.pretty_text}}
    assert config_changes(checkpoint, now, 'model') == [
        "model.backbone.arch: 'b0' -> 'b1'", "model.neck: None -> 'unset'",
        "model.neck.out: 'unset' -> 2"]
    marker = tmp_path / 'ran'
    crafted = {'meta': {'cfg': f"model = __import__('pathlib').Path('{marker}').touch()\n"}}
    assert config_changes(crafted, now, 'model') == []
    assert not marker.exists()


@pytest.mark.parametrize('text', [None, 'not python (', 'other = dict(a=1)\n'])
def test_config_changes_unknown_when_the_saved_text_is_missing_or_odd(text):
    assert config_changes({'meta': {'cfg': text}}, Config(dict(model=dict(a=1))), 'model') == []


def error_line(result):
    """The last stderr line of a tool that must end with one ``error:`` line."""
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_train_resumes_from_what_survives_a_killed_save_and_a_damaged_file(synthetic_root,
                                                                           tmp_path):
    """One work dir through four runs: killed while saving iter_6; its newest
    intact checkpoint then damaged, resumed from the one before; resumed
    from the damaged file, refused; resumed with another architecture, refused."""
    work_dir = tmp_path / 'work'
    killed_config = tmp_path / 'killed_saving_6.py'
    killed_config.write_text(
        f'_base_ = [{str(SYNTHETIC_CONFIG)!r}]\n'
        "custom_hooks = [dict(type='mmfreq.testing.interruptions.KillDuringSaveHook', "
        'iteration=6)]\n')
    # checkpoints every 2 iterations, no validation
    to_6 = ['--cfg-options', *small_run_options(synthetic_root, 6, 2), 'train_cfg.val_begin=7']
    killed = run_tool(['tools/train.py', killed_config, '--work-dir', work_dir, *to_6])
    assert killed.returncode == KILLED_EXIT_CODE, (killed.stdout + killed.stderr)[-3000:]
    [left] = atomic_save.unfinished_saves(work_dir)
    assert os.path.basename(left).startswith('.iter_6.pth.')
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth', 'iter_4.pth']
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'iter_4.pth')
    iter_4 = work_dir / 'iter_4.pth'
    assert read_checkpoint(str(iter_4))['meta']['iter'] == 4

    iter_4.write_bytes(iter_4.read_bytes()[:iter_4.stat().st_size // 2])
    resumed = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir, '--resume',
                        *to_6])
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-3000:]
    assert f'removed {left}, left by a save that was interrupted' in output
    assert f'--resume: skipped {iter_4}, which cannot be read (' in output
    assert 'resumed epoch: 0, iter: 2' in output
    assert re.search(r'Iter\(train\) \[3/6\]', output)
    assert read_checkpoint(str(work_dir / 'iter_6.pth'))['meta']['iter'] == 6

    iter_6 = work_dir / 'iter_6.pth'
    iter_6.write_bytes(iter_6.read_bytes()[:1000])
    refused = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir, '--resume',
                        iter_6, *to_6])
    assert refused.returncode == 1
    assert error_line(refused) == (
        f'error: cannot resume from {iter_6} (1000 bytes: cut short, its zip archive has no '
        f'end); the newest intact checkpoint beside it is {iter_4}: resume with --resume '
        f'{iter_4}')

    other_arch = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir, '--resume',
                           iter_4, *to_6, 'model.backbone.arch=b1'])
    assert other_arch.returncode == 1
    line = error_line(other_arch)
    assert line.startswith(f'error: cannot resume from {iter_4}: it does not fit the model '
                           'EncoderDecoder (read as an mmengine training checkpoint of iteration '
                           '4): ')
    assert 'unexpected keys: backbone.' in line and 'shape mismatches: backbone.' in line
    assert "The config changed since the run began (model.backbone.arch: 'b0' -> 'b1')" in line
    assert 'resumed epoch' not in other_arch.stdout + other_arch.stderr
