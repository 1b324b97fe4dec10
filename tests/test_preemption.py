"""Preemption (mmfreq.engine.preemption): a signal finishes the iteration,
saves it and stops; resuming continues as if nothing happened. In-process on
a toy run; through tools/train.py and tools/dist_train.sh (slow)."""
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook

from mmfreq.engine.atomic_checkpoint_hook import AtomicCheckpointHook
from mmfreq.engine.preemption import PREEMPTED_EXIT_CODE, PreemptionHook, TrainingPreempted
from mmfreq.engine.resume import ResumeCheckHook, resume_point
from mmfreq.testing.interruptions import SignalHook
from mmfreq.testing.tools import (
    ROOT,
    SYNTHETIC_CONFIG,
    run_tool,
    small_run_options,
    training_scalars,
)
from mmfreq.testing.toy_runner import toy_runner
from mmfreq.utils.safe_unpickling import safe_checkpoint_loading
from mmfreq.utils.weights import read_checkpoint


@pytest.fixture(autouse=True)
def safe_loading():
    with safe_checkpoint_loading():
        yield


class CountSaves(Hook):
    def __init__(self):
        self.saved = []

    def before_save_checkpoint(self, runner, checkpoint):
        self.saved.append(checkpoint['meta']['iter'])


def lr_history(runner):
    return runner.message_hub.get_scalar('train/lr').data[0]


@pytest.mark.slow  # three short trainings through the runner
def test_preempted_run_resumes_as_if_never_stopped(tmp_path):
    reference = toy_runner(tmp_path / 'reference', max_iters=6, interval=4)
    reference.train()

    work_dir = tmp_path / 'preempted'
    handler_before = signal.getsignal(signal.SIGUSR1)
    runner = toy_runner(work_dir, max_iters=6, interval=4,
                        hooks=[PreemptionHook(), SignalHook(3, 'SIGUSR1')])
    with pytest.raises(TrainingPreempted) as stopped:
        runner.train()
    assert (stopped.value.signal_name, stopped.value.iteration) == ('SIGUSR1', 3)
    assert stopped.value.checkpoint == str(work_dir / 'iter_3.pth')
    assert f'(exit code {PREEMPTED_EXIT_CODE})' in str(stopped.value)
    assert signal.getsignal(signal.SIGUSR1) is handler_before
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'iter_3.pth')

    point = resume_point(None, str(work_dir))
    resumed = toy_runner(work_dir, max_iters=6, interval=4, resume=True, load_from=point.path,
                         hooks=[ResumeCheckHook(point, str(work_dir))])
    resumed.train()
    assert resumed.iter == 6
    # the same learning rate at every iteration, the same batches: the same model
    np.testing.assert_array_equal(lr_history(resumed), lr_history(reference))
    assert len(lr_history(reference)) == 6
    for key, value in reference.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


def test_an_iteration_saved_by_its_interval_is_not_saved_again(tmp_path):
    saves = CountSaves()
    runner = toy_runner(tmp_path, max_iters=6, interval=2,
                        hooks=[PreemptionHook(), SignalHook(4, 'SIGUSR1'), saves])
    with pytest.raises(TrainingPreempted) as stopped:
        runner.train()
    assert stopped.value.checkpoint == str(tmp_path / 'iter_4.pth')
    assert saves.saved == [2, 4]


def test_no_signal_no_stop_and_handlers_restored(tmp_path):
    handler_before = signal.getsignal(signal.SIGTERM)
    hook = PreemptionHook()
    runner = toy_runner(tmp_path, max_iters=4, interval=4, hooks=[hook])
    with hook.handling_signals():
        assert signal.getsignal(signal.SIGTERM) == hook._record
        runner.train()
    assert runner.iter == 4
    assert signal.getsignal(signal.SIGTERM) is handler_before


def test_handlers_restored_when_training_fails(tmp_path):
    handler_before = signal.getsignal(signal.SIGTERM)
    hook = PreemptionHook()
    with pytest.raises(RuntimeError, match='training failed'):
        with hook.handling_signals():
            raise RuntimeError('training failed')
    assert signal.getsignal(signal.SIGTERM) is handler_before


def signal_config(tmp_path, iteration, signal_name='SIGTERM', rank=None):
    """The built-in config with a hook that signals the run during ``iteration``."""
    config = tmp_path / f'signal_at_{iteration}.py'
    config.write_text(
        f'_base_ = [{str(SYNTHETIC_CONFIG)!r}]\n'
        "custom_hooks = [dict(type='mmfreq.testing.interruptions.SignalHook', "
        f'iteration={iteration}, signal_name={signal_name!r}, rank={rank!r})]\n')
    return config


@pytest.mark.slow
def test_sigterm_saves_the_iteration_and_resume_continues_it(synthetic_root, tmp_path):
    # no validation; a learning rate that moves the model; no dropout, the one random
    # state a checkpoint does not keep (data order and augmentation replay from the seed)
    options = ['--cfg-options', *small_run_options(synthetic_root, 4, 4), 'randomness.seed=0',
               'train_cfg.val_begin=5', 'param_scheduler.0.start_factor=1.0',
               'model.decode_head.dropout_ratio=0.0']
    reference = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', tmp_path / 'reference',
                          *options])
    assert reference.returncode == 0, (reference.stdout + reference.stderr)[-3000:]

    work_dir = tmp_path / 'preempted'
    stopped = run_tool(['tools/train.py', signal_config(tmp_path, 2), '--work-dir', work_dir,
                        *options])
    assert stopped.returncode == PREEMPTED_EXIT_CODE, (stopped.stdout + stopped.stderr)[-3000:]
    assert stopped.stderr.strip().splitlines()[-1] == (
        f'preempted: SIGTERM received: training stopped after iteration 2, saved '
        f'{work_dir}/iter_2.pth; continue with tools/train.py CONFIG --resume (exit code 75)')
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'iter_2.pth')
    assert sorted(training_scalars(work_dir)) == [1, 2]

    resumed = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir, '--resume',
                        *options])
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-3000:]
    assert 'resumed epoch: 0, iter: 2' in output
    expected, got = training_scalars(tmp_path / 'reference'), training_scalars(work_dir)
    assert sorted(got) == sorted(expected) == [1, 2, 3, 4]
    assert [got[i]['lr'] for i in got] == [expected[i]['lr'] for i in got]
    assert got[3]['lr'] > 0
    for i in (3, 4):  # the same weights, optimizer state and batches: the same loss
        assert got[i]['loss'] == pytest.approx(expected[i]['loss'], rel=1e-5, abs=0)
    assert got[4]['loss'] != pytest.approx(got[2]['loss'], rel=1e-3)  # the model moved


@pytest.mark.slow
def test_every_rank_stops_at_the_iteration_one_rank_was_signalled(synthetic_root, tmp_path):
    work_dir = tmp_path / 'work'
    options = ['--cfg-options', *small_run_options(synthetic_root, 6, 6), 'train_cfg.val_begin=7']
    stopped = run_tool(['tools/dist_train.sh', signal_config(tmp_path, 2, 'SIGUSR1', rank=1), '2',
                        '--work-dir', work_dir, *options],
                       env={'PORT': '29533', 'OMP_NUM_THREADS': '1'})
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode == PREEMPTED_EXIT_CODE, output[-3000:]
    assert stopped.stderr.strip().splitlines()[-1] == (
        f'dist_train.sh: preempted: SIGUSR1 received: training stopped after iteration 2, saved '
        f'{work_dir}/iter_2.pth; continue with tools/train.py CONFIG --resume (exit code 75)')
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']
    assert sorted(training_scalars(work_dir)) == [1, 2]


@pytest.fixture
def fake_slurm(tmp_path):
    """srun and scontrol stand-ins on PATH that record their arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('srun', 'scontrol'):
        script = bin_dir / name
        script.write_text(f'#!/usr/bin/env bash\necho "$@" >> "{tmp_path}/{name}.log"\n'
                          'exit "${FAKE_STATUS:-0}"\n' if name == 'srun' else
                          f'#!/usr/bin/env bash\necho "$@" >> "{tmp_path}/{name}.log"\n')
        script.chmod(0o755)
    return {'PATH': f'{bin_dir}:{os.environ["PATH"]}'}


def calls(tmp_path, name):
    log = tmp_path / f'{name}.log'
    return log.read_text().splitlines() if log.exists() else []


def test_slurm_script_requeues_a_preempted_job_which_then_resumes(tmp_path, fake_slurm):
    result = run_tool(['tools/slurm_train.sh', 'part', 'job', 'cfg.py', '--work-dir', 'w'],
                      env={**fake_slurm, 'FAKE_STATUS': '75', 'REQUEUE': '1',
                           'SLURM_JOB_ID': '42', 'SLURM_RESTART_COUNT': '1'})
    assert result.returncode == PREEMPTED_EXIT_CODE
    [srun] = calls(tmp_path, 'srun')
    assert '--signal=USR1@180' in srun.split()
    assert srun.endswith('tools/train.py cfg.py --launcher slurm --work-dir w --resume')
    assert calls(tmp_path, 'scontrol') == ['requeue 42']


def test_slurm_script_passes_other_outcomes_through(tmp_path, fake_slurm):
    result = run_tool(['tools/slurm_train.sh', 'part', 'job', 'cfg.py', '--resume', 'x.pth'],
                      env={**fake_slurm, 'FAKE_STATUS': '1', 'REQUEUE': '1', 'SLURM_JOB_ID': '42',
                           'SLURM_RESTART_COUNT': '2', 'SIGNAL_SECONDS': '0'})
    assert result.returncode == 1
    [srun] = calls(tmp_path, 'srun')
    assert '--signal' not in srun
    assert srun.endswith('--launcher slurm --resume x.pth')
    assert calls(tmp_path, 'scontrol') == []


@pytest.fixture
def fake_torchrun(tmp_path):
    """A stand-in for ``python -m torch.distributed.run`` that records the signal
    it gets and, on SIGTERM, says it was preempted, as train.py's ranks would."""
    script = tmp_path / 'fake_python'
    script.write_text(
        '#!/usr/bin/env bash\n'
        f'[ -n "${{FAKE_EXIT:-}}" ] && exit "$FAKE_EXIT"\n'
        f'trap \'echo TERM >> "{tmp_path}/signals"; '
        'echo "preempted: stub line" > "$MMFREQ_PREEMPTED_FILE"; exit 1\' TERM\n'
        f'touch "{tmp_path}/ready"\n'
        'for _ in $(seq 600); do sleep 0.1; done\n')  # ends by itself if never signalled
    script.chmod(0o755)
    return {'PYTHON': str(script)}


@pytest.mark.parametrize('signal_name', ['SIGTERM', 'SIGUSR1'])
def test_dist_train_passes_a_signal_on_and_exits_75(tmp_path, fake_torchrun, signal_name):
    proc = subprocess.Popen(['bash', str(ROOT / 'tools' / 'dist_train.sh'), 'cfg.py', '2'],
                            env={**os.environ, **fake_torchrun}, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 30
    while not (tmp_path / 'ready').exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.Signals[signal_name])
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == PREEMPTED_EXIT_CODE
    assert stderr.strip().splitlines()[-1] == 'dist_train.sh: preempted: stub line'
    assert (tmp_path / 'signals').read_text() == 'TERM\n'


def test_dist_train_returns_torchruns_own_failure(tmp_path, fake_torchrun):
    result = run_tool(['tools/dist_train.sh', 'cfg.py', '2'], env={**fake_torchrun,
                                                                 'FAKE_EXIT': '3'})
    assert result.returncode == 3


def test_a_by_epoch_run_is_saved_mid_epoch_as_the_epoch_under_way(tmp_path):
    """mmengine resumes a by-epoch checkpoint at the start of meta['epoch']: a
    stop in the middle of epoch 0 must not be saved as a finished epoch."""
    runner = toy_runner(tmp_path)
    hook = AtomicCheckpointHook(interval=1, by_epoch=True, save_optimizer=False,
                                save_param_scheduler=False)
    hook.before_train(runner)
    runner.train_loop._iter = 4  # iteration 5 of epoch 0 just ended
    path = hook.save_now(runner)
    assert path == str(tmp_path / 'iter_5.pth')
    assert read_checkpoint(path)['meta']['epoch'] == 0
    assert read_checkpoint(path)['meta']['iter'] == 5
    assert (tmp_path / 'last_checkpoint').read_text() == path
