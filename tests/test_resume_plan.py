"""What tools/train.py starts from: one plan from --resume and the config."""
import os

import pytest
import torch
from mmengine.config import Config

from mmfreq.engine.resume import RESUME_NEWEST, ResumeError, plan_resume


def checkpoint(path, iteration):
    torch.save({'meta': {'iter': iteration}, 'state_dict': {'w': torch.zeros(2)}}, path)
    os.utime(path, (iteration, iteration))  # newer iterations are newer files
    return str(path)


def config(work_dir, **keys):
    return Config(dict(work_dir=str(work_dir), **keys))


def test_resume_with_a_path_resumes_from_that_file(tmp_path):
    older = checkpoint(tmp_path / 'iter_2.pth', 2)
    checkpoint(tmp_path / 'iter_4.pth', 4)
    cfg = config(tmp_path, load_from='other.pth')  # --resume PATH wins over load_from
    plan = plan_resume(older, cfg)
    assert plan.resuming and plan.point.path == older and plan.fine_tune_from is None
    assert plan.point.checkpoint['meta']['iter'] == 2
    assert plan.reason == f'resuming from {older} (--resume)'
    plan.apply(cfg)
    assert cfg.resume is True and cfg.load_from == older


def test_resume_without_a_path_takes_the_newest_checkpoint_of_the_work_dir(tmp_path):
    checkpoint(tmp_path / 'iter_2.pth', 2)
    newest = checkpoint(tmp_path / 'iter_4.pth', 4)
    cfg = config(tmp_path)
    plan = plan_resume(RESUME_NEWEST, cfg)
    assert plan.point.path == newest and not plan.point.skipped
    assert plan.reason == (f'resuming from {newest}, the newest checkpoint in {tmp_path} that '
                           'can be read (--resume)')
    plan.apply(cfg)
    assert cfg.resume is True and cfg.load_from == newest


def test_resume_in_a_work_dir_without_checkpoints_starts_at_iteration_0(tmp_path):
    cfg = config(tmp_path / 'new', load_from='ignored.pth')
    plan = plan_resume(RESUME_NEWEST, cfg)
    assert plan.resuming and plan.point is None and plan.fine_tune_from is None
    assert plan.reason == (f'--resume: no checkpoint in {tmp_path / "new"}; training starts at '
                           'iteration 0')
    plan.apply(cfg)
    assert cfg.resume is False and cfg.load_from is None


def test_a_damaged_newest_checkpoint_is_skipped(tmp_path):
    older = checkpoint(tmp_path / 'iter_2.pth', 2)
    newest = tmp_path / 'iter_4.pth'
    checkpoint(newest, 4)
    newest.write_bytes(newest.read_bytes()[:200])
    os.utime(newest, (4, 4))
    plan = plan_resume(RESUME_NEWEST, config(tmp_path))
    assert plan.point.path == older
    assert [path for path, _ in plan.point.skipped] == [str(newest)]


def test_resuming_from_a_damaged_file_names_the_intact_one_beside_it(tmp_path):
    older = checkpoint(tmp_path / 'iter_2.pth', 2)
    newest = tmp_path / 'iter_4.pth'
    checkpoint(newest, 4)
    newest.write_bytes(newest.read_bytes()[:200])
    with pytest.raises(ResumeError, match=f'cannot resume from {newest} .*the newest intact '
                       f'checkpoint beside it is {older}'):
        plan_resume(str(newest), config(tmp_path))


def test_resume_in_the_config_resumes_from_its_load_from(tmp_path):
    older = checkpoint(tmp_path / 'iter_2.pth', 2)
    checkpoint(tmp_path / 'iter_4.pth', 4)
    plan = plan_resume(None, config(tmp_path, resume=True, load_from=older))
    assert plan.point.path == older and plan.fine_tune_from is None
    assert plan.reason == f'resuming from {older} (resume=True in the config)'


def test_load_from_in_the_config_fine_tunes_without_mmengines_load(tmp_path):
    trained = checkpoint(tmp_path / 'trained.pth', 1)
    cfg = config(tmp_path / 'run', resume=False, load_from=trained)
    plan = plan_resume(None, cfg)
    assert not plan.resuming and plan.point is None and plan.fine_tune_from == trained
    assert plan.reason == f'fine-tuning from {trained} (load_from in the config)'
    plan.apply(cfg)
    assert cfg.resume is False and cfg.load_from is None


def test_neither_trains_from_the_models_initialisation(tmp_path):
    checkpoint(tmp_path / 'iter_2.pth', 2)  # not resumed without --resume
    cfg = config(tmp_path)
    plan = plan_resume(None, cfg)
    assert not plan.resuming and plan.point is None and plan.fine_tune_from is None
    assert plan.reason == "training from the model's initialisation (no --resume, no load_from)"
    plan.apply(cfg)
    assert cfg.resume is False and cfg.load_from is None
