"""mmfreq's safe checkpoint loader is opt-in: importing mmfreq changes nothing
outside mmfreq; configs and tools turn the loader on explicitly. Every tool
refuses a checkpoint that pickles code with one line naming what it pickles."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from mmfreq.testing.fixtures import photo_path
from mmfreq.testing.tools import ROOT, SYNTHETIC_CONFIG, run_tool, small_run_options

# Prints mmengine's checkpoint loader table and torch's safe globals, before and
# after the statements under test, as two lines compared by the tests.
PROBE = textwrap.dedent('''
    import torch
    from mmengine.runner import CheckpointLoader

    def state():
        loaders = {prefix: f'{fn.__module__}.{fn.__qualname__}'
                   for prefix, fn in CheckpointLoader._schemes.items()}
        # torch registers its own types when its submodules load lazily
        foreign = [repr(g) for g in torch.serialization.get_safe_globals()
                   if not repr(g).startswith("<class 'torch.")]
        return repr((sorted(loaders.items()), sorted(foreign)))

    print(state())
    {statements}
    print(state())
''')


def probe(statements: str) -> tuple:
    code = PROBE.replace('{statements}', textwrap.dedent(statements).strip())
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    before, after = result.stdout.strip().splitlines()[-2:]
    return before, after


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_importing_mmfreq_and_building_a_model_changes_nothing_in_mmengine():
    before, after = probe('''
import mmfreq
import mmfreq.models
from mmengine.registry import MODELS
MODELS.build(dict(type='mmfreq.VAN', arch='b0'))
''')
    assert before == after


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_safe_loading_module_turns_the_loader_on():
    before, after = probe('''
import mmfreq.safe_loading
from mmfreq.utils import load_from_local_safely
assert CheckpointLoader._get_checkpoint_loader('work_dirs/x.pth') is load_from_local_safely
''')
    assert before != after
    assert 'load_from_local_safely' in after and 'load_from_local_safely' not in before


@pytest.mark.slow  # a subprocess (a fresh interpreter and imports)
def test_an_mmfreq_config_turns_the_loader_on_when_read():
    before, after = probe(f'''
from mmengine.config import Config
Config.fromfile({str(SYNTHETIC_CONFIG)!r})
''')
    assert 'load_from_local_safely' in after and 'load_from_local_safely' not in before


class Payload:
    """Stands for a pickled object the safe loader refuses."""


def test_torch_escape_hatch_loads_a_trusted_file(tmp_path, monkeypatch):
    from mmfreq.utils import UnsafeCheckpointError, load_from_local_safely
    path = tmp_path / 'trusted.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'extra': Payload()}, path)
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    with pytest.raises(UnsafeCheckpointError, match=f'it pickles {__name__}.Payload,') as info:
        load_from_local_safely(str(path))
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in str(info.value)  # the docs say it
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    loaded = load_from_local_safely(str(path))
    assert isinstance(loaded['extra'], Payload)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


@pytest.mark.slow
def test_resume_through_the_host_runner_with_the_opt_in(synthetic_root, tmp_path):
    """mmseg's own Runner (no mmfreq tool) resumes an mmfreq config's run."""
    script = tmp_path / 'host_train.py'
    script.write_text(textwrap.dedent('''
        import sys

        from mmengine.config import Config, DictAction
        from mmengine.runner import Runner

        import mmfreq.safe_loading  # noqa: F401  (the documented opt-in)

        config, work_dir, resume, *options = sys.argv[1:]
        cfg = Config.fromfile(config)
        action = DictAction(option_strings=[], dest='options')
        cfg.merge_from_dict({key: action._parse_iterable(value)
                             for key, value in (o.split('=', 1) for o in options)})
        cfg.work_dir, cfg.resume = work_dir, resume == 'resume'
        # SyncBN needs a process group; one CPU process trains with BN
        cfg = Config.fromstring(cfg.pretty_text.replace("'SyncBN'", "'BN'"), '.py')
        runner = Runner.from_cfg(cfg)
        runner.train()
        print('finished at iteration', runner.iter)
    '''))
    work_dir = tmp_path / 'work'
    options = small_run_options(synthetic_root, max_iters=2, interval=2)
    first = subprocess.run([sys.executable, script, SYNTHETIC_CONFIG, work_dir, 'fresh',
                            *options], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (work_dir / 'iter_2.pth').is_file()
    options = [o.replace('train_cfg.max_iters=2', 'train_cfg.max_iters=4') for o in options]
    second = subprocess.run([sys.executable, script, SYNTHETIC_CONFIG, work_dir, 'resume',
                             *options], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert 'resumed' in (second.stdout + second.stderr).lower()
    assert 'finished at iteration 4' in second.stdout


class RunsACommand:
    """Pickles as ``os.system(command)``: unpickling runs the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.fixture(scope='module')
def pickles_code(tmp_path_factory):
    """``(checkpoint, marker, config)``: a checkpoint whose ``meta`` runs
    ``touch marker``, and the synthetic config with that checkpoint as the
    backbone's ``Pretrained`` weights."""
    folder = tmp_path_factory.mktemp('unsafe')
    path, marker = folder / 'evil.pth', folder / 'payload_ran'
    torch.save({'meta': {'note': RunsACommand(f'touch {marker}')},
                'state_dict': {'backbone.patch_embed1.proj.weight': torch.zeros(1)}}, path)
    config = folder / 'pretrained_from_evil.py'
    config.write_text(f"_base_ = '{SYNTHETIC_CONFIG}'\n"
                      "model = dict(backbone=dict(init_cfg=dict(\n"
                      f"    _delete_=True, type='Pretrained', checkpoint='{path}')))\n")
    return path, marker, config


def assert_refused_in_one_line(output: str, path) -> None:
    """The last line names the file and ``posix.system``; torch's advice to
    load with ``weights_only=False`` appears nowhere."""
    last = output.strip().splitlines()[-1]
    assert str(path) in last and f'it pickles {os.system.__module__}.system,' in last, last
    assert 'weights_only' not in output


RUN = ['--skip-preflight', '--cfg-options']
TOOLS = {
    'test.py': ['tools/test.py', SYNTHETIC_CONFIG, '{ckpt}', '--work-dir', '{out}', *RUN],
    'train --resume': ['tools/train.py', SYNTHETIC_CONFIG, '--resume', '{ckpt}',
                       '--work-dir', '{out}', *RUN],
    'load_from': ['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', '{out}', *RUN,
                  'load_from={ckpt}'],
    'backbone Pretrained': ['tools/train.py', '{config}', '--work-dir', '{out}', *RUN],
    'demo': ['demo/image_demo.py', str(photo_path()), SYNTHETIC_CONFIG, '{ckpt}',
             '--out-dir', '{out}'],
    'converter': ['tools/model_converters/van2mmfreq.py', '{ckpt}', '{out}/van.pth',
                  '--arch', 'b0'],
}


@pytest.mark.slow  # a subprocess run of each tool
@pytest.mark.parametrize('tool', list(TOOLS))
def test_every_tool_refuses_a_file_that_pickles_code_in_one_line(tool, pickles_code,
                                                                  synthetic_root, tmp_path):
    path, marker, config = pickles_code
    argv = [str(a).format(ckpt=path, out=tmp_path, config=config) for a in TOOLS[tool]]
    if '--cfg-options' in argv:
        argv += small_run_options(synthetic_root, max_iters=2, interval=2)
    result = run_tool(argv)
    assert result.returncode == 1, (result.stdout + result.stderr)[-3000:]
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1].startswith('error: ')
    assert_refused_in_one_line(result.stdout + result.stderr, path)
    assert not marker.exists()


@pytest.mark.slow  # reads the config and builds the model (about 5 s)
def test_init_model_refuses_a_file_that_pickles_code(pickles_code):
    from mmfreq.apis import init_model
    from mmfreq.utils import UnsafeCheckpointError
    path, marker, _ = pickles_code
    with pytest.raises(UnsafeCheckpointError) as info:
        init_model(str(SYNTHETIC_CONFIG), str(path))
    assert '\n' not in str(info.value)
    assert_refused_in_one_line(str(info.value), path)
    assert not marker.exists()


@pytest.mark.slow  # reads the config and builds the model (about 5 s)
def test_host_inferencer_refuses_a_file_that_pickles_code(pickles_code):
    """mmseg's own inferencer on an mmfreq config: the config turns the
    safe loader on, and its refusal is the same line."""
    from mmseg.apis import MMSegInferencer

    from mmfreq.utils import UnsafeCheckpointError
    path, marker, _ = pickles_code
    with pytest.raises(UnsafeCheckpointError) as info:
        MMSegInferencer(model=str(SYNTHETIC_CONFIG), weights=str(path), device='cpu')
    assert '\n' not in str(info.value)
    assert_refused_in_one_line(str(info.value), path)
    assert not marker.exists()
