"""Resuming under torch's weights_only loader: allowlist, refusal of the rest
in one line naming what a file pickles, and the loader switched for a block."""
import os
import pickle
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner
from mmengine.runner.checkpoint import load_from_local

import mmfreq.safe_loading  # noqa: F401  (turns the safe loader on)
from mmfreq.utils import UnsafeCheckpointError, load_from_local_safely
from mmfreq.utils.safe_unpickling import (
    disable_safe_checkpoint_loading,
    enable_safe_checkpoint_loading,
    safe_checkpoint_loading,
)


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return {'loss': ((out.squeeze(1) - labels) ** 2).mean()}
        return out


class ToyDataset(torch.utils.data.Dataset):
    metainfo = {'classes': ('a', 'b')}

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return {'inputs': torch.tensor([float(i), 1.0]), 'labels': torch.tensor(float(i % 2))}


class Payload:
    """Stands for any pickled object a checkpoint should not carry."""


def make_runner(work_dir: Path, max_iters: int, resume: bool = False) -> Runner:
    return Runner(
        model=ToyModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyDataset(), sampler=dict(type='InfiniteSampler'),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        param_scheduler=dict(type='LinearLR', by_epoch=False, begin=0, end=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                           interval=2)),
        resume=resume, load_from=None, default_scope='mmengine',
        experiment_name=f'toy_{work_dir.name}_{max_iters}_{resume}')


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp('toy')
    make_runner(work_dir, max_iters=2).train()
    return work_dir


def test_plain_safe_load_fails_so_the_allowlist_is_needed(trained):
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(trained / 'iter_2.pth', weights_only=True)


def test_mmengine_checkpoint_loads_safely(trained):
    checkpoint = load_from_local_safely(str(trained / 'iter_2.pth'))
    assert checkpoint['meta']['iter'] == 2
    assert 'train/loss' in checkpoint['message_hub']['log_scalars']


def test_mmengine_loads_local_files_through_the_safe_loader():
    assert CheckpointLoader._get_checkpoint_loader('work_dirs/x.pth') is load_from_local_safely


def test_safe_loading_can_be_turned_off_and_on_again(trained):
    path = str(trained / 'iter_2.pth')
    disable_safe_checkpoint_loading()
    try:
        assert CheckpointLoader._get_checkpoint_loader(path) is load_from_local
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
            CheckpointLoader.load_checkpoint(path)  # mmengine's loader under torch >= 2.6
        with safe_checkpoint_loading():
            assert CheckpointLoader.load_checkpoint(path)['meta']['iter'] == 2
        assert CheckpointLoader._get_checkpoint_loader(path) is load_from_local
    finally:
        enable_safe_checkpoint_loading()
    assert CheckpointLoader.load_checkpoint(path)['meta']['iter'] == 2


def custom_loader(filename, map_location=None):
    """Stands for a loader some other code registered for local files."""
    return {'loaded by': 'custom', 'file': filename}


@pytest.mark.parametrize('before', ['mmengine', 'safe', 'custom'])
@pytest.mark.parametrize('leave_by_error', [False, True])
def test_the_scoped_switch_restores_exactly_the_loader_it_found(trained, before,
                                                                leave_by_error):
    path = str(trained / 'iter_2.pth')
    previous = {'mmengine': load_from_local, 'safe': load_from_local_safely,
                'custom': custom_loader}[before]
    CheckpointLoader.register_scheme(prefixes='', force=True)(previous)
    try:
        with pytest.raises(RuntimeError) if leave_by_error else nullcontext():
            with safe_checkpoint_loading():
                assert CheckpointLoader._get_checkpoint_loader(path) is load_from_local_safely
                assert CheckpointLoader.load_checkpoint(path)['meta']['iter'] == 2
                if leave_by_error:
                    raise RuntimeError('the block fails')
        assert CheckpointLoader._get_checkpoint_loader(path) is previous
        assert CheckpointLoader._get_checkpoint_loader('s3://bucket/x.pth') is not previous
    finally:
        enable_safe_checkpoint_loading()


def test_resume_continues_from_the_checkpoint(trained):
    runner = make_runner(trained, max_iters=4, resume=True)
    runner.train()
    assert runner.iter == 4
    assert (trained / 'iter_4.pth').is_file()
    checkpoint = load_from_local_safely(str(trained / 'iter_4.pth'))
    assert checkpoint['meta']['iter'] == 4


def test_checkpoint_with_a_foreign_object_is_refused(trained, tmp_path):
    checkpoint = load_from_local_safely(str(trained / 'iter_2.pth'))
    checkpoint['meta']['payload'] = Payload()
    path = tmp_path / 'tampered.pth'
    torch.save(checkpoint, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_from_local_safely(str(path))
    message = str(info.value)
    assert str(path) in message
    assert f'it pickles {__name__}.Payload,' in message  # and nothing mmengine's own
    assert 'arbitrary code' in message


class RunsACommand:
    """Pickles as ``os.system(command)``: unpickling runs the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize('zip_format', [True, False])
def test_file_that_pickles_code_is_refused_in_one_line_naming_the_global(tmp_path, zip_format):
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'x': RunsACommand(f'touch {marker}')}},
               path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_from_local_safely(str(path))
    message = str(info.value)
    assert not marker.exists()
    assert '\n' not in message
    assert str(path) in message and f'it pickles {os.system.__module__}.system,' in message
    # torch's advice to load such a file with weights_only=False is not relayed
    assert 'weights_only' not in message
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_backbone_pretrained_refuses_code_whatever_loader_is_registered(tmp_path):
    """A backbone's Pretrained read goes through the safe loader even where
    mmengine's own loader is registered (a script that never imported
    mmfreq.safe_loading), and is refused in one line naming the global."""
    from mmfreq.models.backbones import VAN

    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'x': RunsACommand(f'touch {marker}')}},
               path)
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    try:
        model = VAN(arch='b0', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
        with pytest.raises(UnsafeCheckpointError) as info:
            model.init_weights()
        assert CheckpointLoader._get_checkpoint_loader(str(path)) is load_from_local
    finally:
        enable_safe_checkpoint_loading()
    message = str(info.value)
    assert not marker.exists()
    assert str(path) in message and f'{os.system.__module__}.system' in message
    assert 'weights_only' not in message and '\n' not in message


def test_file_that_is_no_checkpoint_is_unreadable_not_unsafe(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_bytes(b'xsome text, not a pickle')
    with pytest.raises(pickle.UnpicklingError) as info:
        load_from_local_safely(str(path))
    assert not isinstance(info.value, UnsafeCheckpointError)
    assert str(path) in str(info.value) and 'Unsupported operand' in str(info.value)
    assert 'weights_only' not in str(info.value)


@pytest.mark.parametrize('keep_bytes', [100, 5000])
def test_truncated_checkpoint_is_unreadable_naming_the_file(tmp_path, keep_bytes):
    """Cut short at 5000 bytes, torch's zip reader raises OSError (errno 22),
    which the weights layer names as it names every unreadable file."""
    from mmfreq.utils.weights import read_checkpoint

    path = tmp_path / 'cut.pth'
    torch.save({'state_dict': {f'w{i}': torch.randn(64, 64) for i in range(8)}}, path)
    path.write_bytes(path.read_bytes()[:keep_bytes])
    with pytest.raises(ValueError) as info:
        read_checkpoint(str(path))
    assert str(path) in str(info.value) and 'not a readable checkpoint' in str(info.value)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        load_from_local_safely(str(tmp_path / 'nothing.pth'))


class MethodLookup:
    """Pickles as ``getattr(HistoryBuffer, name)``, as a crafted file could."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, self.name)


def test_only_history_buffer_statistics_may_be_looked_up(tmp_path):
    allowed, forbidden = tmp_path / 'allowed.pth', tmp_path / 'forbidden.pth'
    torch.save({'method': MethodLookup('mean')}, allowed)
    torch.save({'method': MethodLookup('update')}, forbidden)
    from mmengine.logging import HistoryBuffer
    assert load_from_local_safely(str(allowed))['method'] is HistoryBuffer.mean
    with pytest.raises(UnsafeCheckpointError) as info:
        load_from_local_safely(str(forbidden))
    assert str(forbidden) in str(info.value)
    assert "it pickles getattr(HistoryBuffer, 'update')," in str(info.value)

