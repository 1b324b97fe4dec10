"""The seed study reads a run's final metric from mmengine's logs, resumed
runs included, and summarises seeds as mean ± sample std."""
import json
import statistics

import pytest

from mmfreq.analysis.seed_study import final_metric, format_table, summarise


def write_scalars(work_dir, timestamp, lines, tail=''):
    path = work_dir / timestamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines) + tail)


def val(step, miou):
    return {'aAcc': 90.0, 'mIoU': miou, 'mAcc': 80.0, 'step': step}


def train_line(step):
    return {'lr': 1e-3, 'loss': 1.0, 'iter': step, 'step': step}


def test_final_metric_is_the_value_at_the_last_iteration(tmp_path):
    write_scalars(tmp_path, '20261206_090000',
                  [train_line(200), val(200, 40.0), train_line(400), val(400, 50.0),
                   train_line(600), val(600, 61.5)])
    assert final_metric(str(tmp_path), 'mIoU', 600) == 61.5
    assert final_metric(str(tmp_path), 'mAcc', 600) == 80.0
    assert final_metric(str(tmp_path), 'mIoU', 800) is None  # not trained to the end


def test_final_metric_of_a_run_resumed_after_a_kill(tmp_path):
    # the first start was killed after validating at 400, mid-line; the resumed
    # start (a later timestamp) validated at 600; a stale 600 line in an older
    # log must not win over the newer one
    write_scalars(tmp_path, '20261206_090000', [val(400, 50.0), val(600, 1.0)],
                  tail='{"loss": 0.9, "st')
    write_scalars(tmp_path, '20261206_100000', [val(600, 62.0)])
    assert final_metric(str(tmp_path), 'mIoU', 600) == 62.0
    assert final_metric(str(tmp_path), 'mIoU', 400) == 50.0


def test_final_metric_of_an_empty_work_dir(tmp_path):
    assert final_metric(str(tmp_path / 'missing'), 'mIoU', 600) is None


def test_summarise_gives_mean_and_sample_std_in_seed_order():
    row = summarise({2: 60.0, 0: 58.0, 1: 63.0})
    assert row['seeds'] == [0, 1, 2] and row['values'] == [58.0, 63.0, 60.0]
    assert row['mean'] == pytest.approx(181 / 3)
    # sample std (n - 1): sqrt(((58-m)^2 + (63-m)^2 + (60-m)^2) / 2)
    m = 181 / 3
    assert row['std'] == pytest.approx((((58 - m) ** 2 + (63 - m) ** 2 + (60 - m) ** 2) / 2) ** 0.5)
    assert row['std'] == pytest.approx(statistics.stdev([58.0, 63.0, 60.0]))
    assert summarise({0: 5.0})['std'] is None


def test_format_table_has_every_seed_and_marks_missing_ones():
    table = format_table({'a': summarise({0: 58.0, 1: 63.0}), 'b': summarise({1: 40.0})}, 'mIoU')
    lines = table.splitlines()
    assert lines[0] == '| config | seed 0 | seed 1 | mIoU mean ± std |'
    assert lines[2] == '| a | 58.00 | 63.00 | 60.50 ± 3.54 |'
    assert lines[3] == '| b | - | 40.00 | 40.00 ± - |'
