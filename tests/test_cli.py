"""What the tools share: the error exit with its optional traceback, and
compiling a model for testing."""
import argparse

import pytest
import torch
from mmengine.model import BaseModel, BaseTTAModel

from mmfreq.cli.errors import DEBUG_ENV, add_debug_argument, debugging, exit_on_error
from mmfreq.engine.compile import compile_model


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
