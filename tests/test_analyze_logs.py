"""tools/analysis_tools/analyze_logs.py on scalars.json logs in mmengine's format."""
import json

import numpy as np
import pytest

from mmfreq.testing.tools import load_script, run_tool

TOOL = 'tools/analysis_tools/analyze_logs.py'


def write_log(path, lines) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return str(path)


def iter_based_log(tmp_path, name='run_a', losses=(2.0, 1.5, 1.2, 1.0)) -> str:
    """What LocalVisBackend writes for an iteration-based run: train lines
    every 10 iterations, a validation line at 20 and 40."""
    lines = []
    for i, loss in enumerate(losses, 1):
        lines.append({'lr': 0.01, 'data_time': 0.01, 'loss': loss, 'decode.loss_ce': loss,
                      'time': 0.5 + 0.1 * i, 'iter': 10 * i, 'memory': 100, 'step': 10 * i})
        if i % 2 == 0:
            lines.append({'aAcc': 50.0 + i, 'mIoU': 10.0 * i, 'mAcc': 20.0, 'data_time': 0.1,
                          'time': 0.2, 'step': 10 * i})
    return write_log(tmp_path / name / '20260101_000000' / 'vis_data' / 'scalars.json', lines)


def load_tool():
    return load_script(TOOL)


def test_curves_take_iterations_for_training_and_validation_keys(tmp_path):
    tool = load_tool()
    lines = tool.load_scalars(iter_based_log(tmp_path))
    assert tool.curve(lines, 'loss', 'x') == ([10, 20, 30, 40], [2.0, 1.5, 1.2, 1.0], 'iter')
    assert tool.curve(lines, 'mIoU', 'x') == ([20, 40], [20.0, 40.0], 'iter')


def test_validation_of_an_epoch_based_run_is_plotted_against_epochs(tmp_path):
    tool = load_tool()
    path = write_log(tmp_path / 'scalars.json', [
        {'loss': 1.0, 'epoch': 1, 'iter': 5, 'step': 5},
        {'coco/bbox_mAP': 0.1, 'step': 1},
        {'loss': 0.8, 'epoch': 2, 'iter': 10, 'step': 10},
        {'coco/bbox_mAP': 0.3, 'step': 2}])
    lines = tool.load_scalars(path)
    assert tool.curve(lines, 'coco/bbox_mAP', path) == ([1, 2], [0.1, 0.3], 'epoch')
    assert tool.curve(lines, 'loss', path)[0] == [5, 10]


def test_plot_curve_draws_every_key_in_its_own_panel(tmp_path):
    from PIL import Image

    out = tmp_path / 'curve.png'
    result = run_tool([TOOL, 'plot_curve', iter_based_log(tmp_path), '--keys', 'loss', 'mIoU',
                       '--title', 'fpn', '--out', out])
    assert result.returncode == 0, result.stderr
    assert f'saved to {out}' in result.stdout
    image = np.asarray(Image.open(out).convert('L'))
    assert image.shape == (600, 700)  # 7 x 3 inches per key at 100 dpi
    # each panel has drawn (non-white) pixels: axes, ticks and the curve
    assert (image[:300] < 200).mean() > 0.01 and (image[300:] < 200).mean() > 0.01


def test_several_logs_with_legend_labels(tmp_path):
    first = iter_based_log(tmp_path, 'run_a')
    second = iter_based_log(tmp_path, 'run_b', losses=(3.0, 2.0, 1.0, 0.5))
    out = tmp_path / 'two.png'
    result = run_tool([TOOL, 'plot_curve', first, second, '--keys', 'loss', '--legend', 'a',
                       'b', '--out', out])
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    result = run_tool([TOOL, 'plot_curve', first, second, '--keys', 'loss', '--legend', 'a',
                       '--out', out])
    assert result.returncode == 1
    assert '--legend has 1 labels; 2 logs x 1 keys need 2' in result.stderr


def test_a_key_not_in_the_log_is_named_with_the_keys_there(tmp_path):
    log = iter_based_log(tmp_path)
    result = run_tool([TOOL, 'plot_curve', log, '--keys', 'loss', 'mAP', '--out',
                       tmp_path / 'x.png'])
    assert result.returncode == 1
    assert f"key 'mAP' is not in {log}" in result.stderr
    assert 'aAcc, data_time, decode.loss_ce, iter, loss, lr, mAcc, mIoU, memory, time' \
        in result.stderr
    assert not (tmp_path / 'x.png').exists()


@pytest.mark.parametrize('content, message', [
    (None, 'does not exist'), ('{"loss": 1}\nnot json\n', 'line 2: not JSON')])
def test_bad_log_files_are_named(tmp_path, content, message):
    log = tmp_path / 'scalars.json'
    if content is not None:
        log.write_text(content)
    result = run_tool([TOOL, 'plot_curve', log, '--out', tmp_path / 'x.png'])
    assert result.returncode == 1
    assert str(log) in result.stderr and message in result.stderr


def test_cal_train_time(tmp_path):
    result = run_tool([TOOL, 'cal_train_time', iter_based_log(tmp_path)])
    assert result.returncode == 0, result.stderr
    # times 0.6, 0.7, 0.8, 0.9 at iters 10..40
    assert '0.7500 s/iter' in result.stdout
    assert 'slowest logged iter 40, fastest 10' in result.stdout
