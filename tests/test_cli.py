"""What the tools share: the error exit with its optional traceback, and
compiling a model for testing."""
import argparse
import pickle

import pytest
import torch
from mmengine.model import BaseModel, BaseTTAModel

from mmfreq.cli.errors import DEBUG_ENV, add_debug_argument, debugging, exit_on_error
from mmfreq.cli.run import ConfigBuildError
from mmfreq.datasets.preflight import DatasetNotFoundError, PreflightError
from mmfreq.datasets.transforms import SampleError
from mmfreq.deployment.onnx import ExportError
from mmfreq.engine.compile import compile_model
from mmfreq.engine.resume import ResumeError
from mmfreq.errors import UserError
from mmfreq.testing.tools import SYNTHETIC_CONFIG, run_tool
from mmfreq.utils import (
    CheckpointDownloadError,
    CheckpointNotFoundError,
    UnsafeCheckpointError,
)
from mmfreq.utils.cfg_options import CfgOptionError
from mmfreq.utils.collect_env import MMCVOpsMissingError


def fail_deep_inside() -> None:
    raise ValueError('bad value 3')


def test_error_exit_is_one_line_without_debug(capsys):
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_error(ValueError):
            fail_deep_inside()
    assert exit_info.value.code == 'error: bad value 3'
    assert capsys.readouterr().err == ''


def test_debug_prints_the_traceback_behind_the_error_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_error(KeyError, ValueError, debug=True):
            fail_deep_inside()
    assert exit_info.value.code == 'error: bad value 3'
    err = capsys.readouterr().err
    assert err.startswith('Traceback (most recent call last):')
    assert 'in fail_deep_inside' in err and err.rstrip().endswith('ValueError: bad value 3')


def test_other_errors_pass_through_untouched():
    with pytest.raises(TypeError, match='not a user error'):
        with exit_on_error(ValueError, debug=True):
            raise TypeError('not a user error')


class LibraryError(ValueError, UserError):
    """A library's error that a tool does not list."""


@pytest.mark.parametrize('error', [LibraryError('bad file x.pth'),
                                   UnsafeCheckpointError('bad file x.pth')])
def test_user_errors_end_every_block_in_one_line_unlisted(capsys, error):
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_error(KeyError):
            raise error
    assert exit_info.value.code == 'error: bad file x.pth'
    assert capsys.readouterr().err == ''
    assert isinstance(error, (ValueError, pickle.UnpicklingError))  # callers catch as before


@pytest.mark.parametrize('error, builtin', [
    (CfgOptionError, ValueError), (CheckpointDownloadError, ConnectionError),
    (CheckpointNotFoundError, FileNotFoundError), (ConfigBuildError, ValueError),
    (DatasetNotFoundError, FileNotFoundError), (ExportError, RuntimeError),
    (MMCVOpsMissingError, ImportError), (PreflightError, ValueError),
    (ResumeError, RuntimeError), (SampleError, RuntimeError)])
def test_each_user_error_ends_a_tool_in_one_line_and_keeps_its_builtin_base(capsys, error,
                                                                            builtin):
    raised = error('what to fix')
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_error():
            raise raised
    assert exit_info.value.code == f'error: {raised}' and 'what to fix' in str(raised)
    assert capsys.readouterr().err == ''
    assert issubclass(error, builtin)  # code that catches the built-in still does


def test_key_errors_read_as_written():
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_error(KeyError):
            raise KeyError('VANN is not in the mmseg::model registry')
    assert exit_info.value.code == 'error: VANN is not in the mmseg::model registry'


@pytest.mark.slow  # a subprocess run of the tool
def test_unknown_arch_in_a_config_is_one_error_line_naming_it(tmp_path):
    result = run_tool(['tools/train.py', SYNTHETIC_CONFIG, '--work-dir', tmp_path,
                       '--cfg-options', 'model.backbone.arch=b9'])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: {SYNTHETIC_CONFIG}: ') and 'Traceback' not in result.stderr
    assert "unknown arch 'b9'" in last and 'b0, b1, b2' in last


@pytest.mark.parametrize('debug', [False, True])
def test_converter_ends_an_unknown_arch_in_one_line_with_debug_traceback(capsys, tmp_path,
                                                                         debug):
    """The converters' main, run as van2mmfreq.py runs it."""
    from mmfreq.cli.convert import run_converter
    from mmfreq.models.backbones.van import VAN
    argv = [str(tmp_path / 'in.pth'), str(tmp_path / 'out.pth'), '--arch', 'b9']
    with pytest.raises(SystemExit) as exit_info:
        run_converter('Convert.', 'a VAN checkpoint', lambda parser: parser.add_argument('--arch'),
                      build=lambda args: VAN(arch=args.arch),
                      describe=lambda args: f'VAN arch {args.arch!r}',
                      argv=argv + ['--debug'] * debug)
    assert exit_info.value.code.startswith("error: VAN: unknown arch 'b9'; valid archs: b, b0")
    err = capsys.readouterr().err
    assert err.startswith('Traceback (most recent call last):') if debug else err == ''
    assert ('in arch_from_zoo' in err) is debug


@pytest.mark.parametrize('argv, env, expected', [
    ([], None, False), (['--debug'], None, True), ([], '1', True), ([], 'true', True),
    ([], '0', False), (['--debug'], '0', True)])
def test_debug_comes_from_the_flag_or_the_environment(monkeypatch, argv, env, expected):
    if env is None:
        monkeypatch.delenv(DEBUG_ENV, raising=False)
    else:
        monkeypatch.setenv(DEBUG_ENV, env)
    parser = argparse.ArgumentParser()
    add_debug_argument(parser)
    assert debugging(parser.parse_args(argv)) is expected


class Toy(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.conv(inputs).relu().mean((2, 3))
        return list(out) if mode == 'predict' else out


class FlipTTA(BaseTTAModel):
    def merge_preds(self, data_samples_list):
        return [sum(preds) / len(preds) for preds in data_samples_list]


@pytest.mark.parametrize('wrap', [False, True])
def test_compile_model_compiles_the_forward_that_test_step_calls(wrap):
    from torch._dynamo.testing import CompileCounter

    torch.manual_seed(0)
    toy = Toy().eval()
    model = FlipTTA(module=toy) if wrap else toy
    images = torch.randn(2, 3, 8, 8)
    data = dict(inputs=[images, images.flip(-1)]) if wrap else dict(inputs=images)
    with torch.no_grad():
        expected = model.test_step(data)
    counter = CompileCounter()
    torch._dynamo.reset()
    assert compile_model(model, dict(backend=counter)) is toy
    with torch.no_grad():
        got = model.test_step(data)
    assert counter.frame_count >= 1  # the model's forward ran through dynamo
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected))
    assert len(got) == len(expected) == 2


class ToySegmentor(BaseModel):
    """Backbone and neck, then a 'head' that resizes to each sample's own size
    (read as Python numbers, as mmseg's and mmdet's heads read image metadata)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.neck = torch.nn.Conv2d(4, 2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        feats = self.neck(self.backbone(inputs))
        return [torch.nn.functional.interpolate(feats[i:i + 1], size=size, mode='bilinear')
                for i, size in enumerate(data_samples)]


def test_compile_model_compiles_backbone_and_neck_not_the_size_reading_head():
    graphs = []

    def recording_backend(gm, example_inputs):
        graphs.append(gm.code)
        return gm.forward

    torch.manual_seed(0)
    model = ToySegmentor().eval()
    images = torch.randn(2, 3, 8, 8)
    batches = [dict(inputs=images, data_samples=sizes)
               for sizes in ([(5, 7), (6, 9)], [(4, 4), (11, 3)], [(2, 5), (7, 7)])]
    with torch.no_grad():
        expected = [model.test_step(data) for data in batches]
    torch._dynamo.reset()
    assert compile_model(model, dict(backend=recording_backend)) is model
    with torch.no_grad():
        got = [model.test_step(data) for data in batches]
    # one graph each for backbone and neck; the resize to each sample's size stays eager
    assert len(graphs) == 2 and not any('interpolate' in code for code in graphs), graphs
    for outs, refs in zip(got, expected):
        assert [o.shape for o in outs] == [r.shape for r in refs]
        assert all(torch.allclose(o, r, atol=1e-6) for o, r in zip(outs, refs))
