"""The seed study reads a run's final metrics and per-class tables from
mmengine's logs, resumed runs included, and summarises seeds and paired
differences with 95% t intervals."""
import json
import math
import statistics
import sys

import pytest

from mmfreq.analysis.seed_study import (
    ci95,
    class_differences,
    class_minimum,
    final_metric,
    format_class_minimum,
    format_table,
    paired,
    per_class,
    summarise,
)
from mmfreq.testing.tools import ROOT, load_script


def run_seed_study(monkeypatch, *args):
    """``main()`` of tools/analysis_tools/seed_study.py with ``args``, in this process."""
    path = ROOT / 'tools' / 'analysis_tools' / 'seed_study.py'
    module = load_script(path)
    monkeypatch.setattr(sys, 'argv', [str(path), *map(str, args)])
    module.main()


def write_scalars(work_dir, timestamp, lines, tail=''):
    path = work_dir / timestamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines) + tail)


def val(step, miou, mbiou=50.0):
    return {'aAcc': 90.0, 'mIoU': miou, 'mAcc': 80.0, 'mBIoU': mbiou, 'step': step}


def train_line(step):
    return {'lr': 1e-3, 'loss': 1.0, 'iter': step, 'step': step}


def log_train(step, total):
    return (f'2026/12/07 16:50:53 - mmengine - INFO - Iter(train) [{step:4d}/{total}]  '
            'lr: 1.0e-04  eta: 0:00:00  time: 0.2991  data_time: 0.0090  loss: 0.1263\n')


def log_tables(iou, biou=None):
    """What mmseg's IoUMetric (and mmfreq's BoundaryIoUMetric) log at a
    validation: a title, a log line with an empty message, the table."""
    head = '2026/12/07 16:50:56 - mmengine - INFO - '
    text = (f'{head}per class results:\n{head}\n'
            '+------------+-------+-------+\n'
            '|   Class    |  IoU  |  Acc  |\n'
            '+------------+-------+-------+\n'
            + ''.join(f'| {name:^10} | {value:^5} | 90.0  |\n' for name, value in iou.items())
            + '+------------+-------+-------+\n')
    if biou is not None:
        text += (f'{head}per class boundary IoU:\n{head}\n'
                 '+------------+-------+\n'
                 '|   Class    |  BIoU |\n'
                 '+------------+-------+\n'
                 + ''.join(f'| {name:^10} | {value:^5} |\n' for name, value in biou.items())
                 + '+------------+-------+\n')
    return text + f'{head}Iter(val) [100/100]    aAcc: 95.6600  mIoU: 79.8300\n'


def write_log(work_dir, timestamp, text):
    path = work_dir / timestamp / f'{timestamp}.log'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


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


def test_per_class_reads_the_last_table_at_or_before_the_final_iteration(tmp_path):
    write_log(tmp_path, '20261206_090000',
              log_train(200, 400) + log_tables({'sky': 10.0, 'wire': 0.0},
                                               {'sky': 5.0, 'wire': 0.0})
              + log_train(400, 400) + log_tables({'sky': 80.5, 'wire': 45.0},
                                                 {'sky': 60.0, 'wire': 44.0})
              + log_train(420, 400) + log_tables({'sky': 1.0, 'wire': 1.0}))
    assert per_class(str(tmp_path), 400) == {'IoU': {'sky': 80.5, 'wire': 45.0},
                                             'BIoU': {'sky': 60.0, 'wire': 44.0}}
    assert per_class(str(tmp_path), 200)['IoU'] == {'sky': 10.0, 'wire': 0.0}
    assert per_class(str(tmp_path), 100) == {}  # no validation yet
    assert per_class(str(tmp_path / 'missing'), 400) == {}


def test_per_class_of_a_resumed_run_reads_the_newest_log_with_a_table(tmp_path):
    # the first start validated at 200; the resumed one at 400, then was
    # restarted once more and killed mid-table (that log has no whole table)
    write_log(tmp_path, '20261206_090000', log_train(200, 400) + log_tables({'sky': 10.0}))
    write_log(tmp_path, '20261206_100000', log_train(400, 400) + log_tables({'sky': 70.0}))
    write_log(tmp_path, '20261206_110000',
              log_train(400, 400) + log_tables({'sky': 1.0}).split('+---')[0] + '| sky ')
    # a table logged before any training line (tools/test.py) is not a validation
    write_log(tmp_path, '20261206_120000', log_tables({'sky': 2.0}))
    assert per_class(str(tmp_path), 400) == {'IoU': {'sky': 70.0}}


def test_ci95_against_a_hand_computation():
    # mean 3, std 1.5811, t(0.975, 4) = 2.7764: 2.7764 * 1.5811 / sqrt(5) = 1.9632
    assert ci95([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(1.9632, abs=1e-4)
    assert ci95([7.0]) is None


def test_summarise_gives_mean_sample_std_and_interval_in_seed_order():
    row = summarise({2: 60.0, 0: 58.0, 1: 63.0})
    assert row['seeds'] == [0, 1, 2] and row['values'] == [58.0, 63.0, 60.0]
    assert row['mean'] == pytest.approx(181 / 3)
    # sample std (n - 1): sqrt(((58-m)^2 + (63-m)^2 + (60-m)^2) / 2)
    m = 181 / 3
    std = (((58 - m) ** 2 + (63 - m) ** 2 + (60 - m) ** 2) / 2) ** 0.5
    assert row['std'] == pytest.approx(std)
    assert row['std'] == pytest.approx(statistics.stdev([58.0, 63.0, 60.0]))
    assert row['ci95'] == pytest.approx(4.3027 * std / math.sqrt(3), abs=1e-3)  # t(0.975, 2)
    assert summarise({0: 5.0})['std'] is None and summarise({0: 5.0})['ci95'] is None


def test_paired_differences_over_the_seeds_both_have():
    baseline = {0: 60.0, 1: 62.0, 2: 58.0, 3: 61.0}
    other = {0: 61.0, 1: 64.0, 2: 61.0, 3: 65.0, 4: 99.0}  # seed 4 has no baseline
    row = paired(baseline, other)
    assert row['seeds'] == [0, 1, 2, 3] and row['values'] == [1.0, 2.0, 3.0, 4.0]
    assert row['mean'] == 2.5
    # std of 1..4 is 1.2910, t(0.975, 3) = 3.1824: 3.1824 * 1.2910 / 2 = 2.0543
    assert row['ci95'] == pytest.approx(2.0543, abs=1e-4)


def test_class_minimum_is_each_class_worst_seed():
    minima = class_minimum({1: {'sky': 80.0, 'wire': 0.0}, 0: {'sky': 70.0, 'wire': 40.0}})
    assert minima == {'sky': 70.0, 'wire': 0.0}
    assert list(minima) == ['sky', 'wire']


def test_class_differences_pair_each_class_over_the_seeds_both_have_it():
    baseline = {0: {'sky': 80.0, 'wire': 10.0}, 1: {'sky': 82.0, 'wire': 20.0},
                2: {'sky': 81.0}, 3: {'sky': 70.0, 'dot': 5.0}}
    other = {0: {'sky': 81.0, 'wire': 15.0}, 1: {'sky': 85.0, 'wire': 30.0},
             2: {'sky': 81.0, 'wire': 40.0}, 3: {'sky': 70.0}}
    result = class_differences(baseline, other)
    assert list(result) == ['sky', 'wire']  # no seed has a dot on both sides
    assert result['sky']['seeds'] == [0, 1, 2, 3]
    assert result['sky']['values'] == [1.0, 3.0, 0.0, 0.0]
    assert result['wire']['seeds'] == [0, 1] and result['wire']['values'] == [5.0, 10.0]
    assert result['wire']['ci95'] == pytest.approx(12.706 * statistics.stdev([5, 10]) / 2 ** 0.5,
                                                   rel=1e-4)


def test_format_table_has_every_seed_and_marks_missing_ones():
    table = format_table({'a': summarise({0: 58.0, 1: 63.0}), 'b': summarise({1: 40.0})}, 'mIoU')
    lines = table.splitlines()
    assert lines[0] == '| config | seed 0 | seed 1 | std | mIoU mean ± 95% CI |'
    # t(0.975, 1) = 12.706: 12.706 * 3.5355 / sqrt(2) = 31.77
    assert lines[2] == '| a | 58.00 | 63.00 | 3.54 | 60.50 ± 31.77 |'
    assert lines[3] == '| b | - | 40.00 | - | 40.00 ± - |'


def test_format_class_minimum_has_every_class():
    lines = format_class_minimum({'a': {'sky': 70.0, 'wire': 0.0}, 'b': {'sky': 75.5}}).splitlines()
    assert lines[0] == '| config | sky | wire |'
    assert lines[2:] == ['| a | 70.00 | 0.00 |', '| b | 75.50 | - |']


def fake_run(root, name, seed, miou, mbiou, iou):
    """A finished 400-iteration run as the tool reads it: mmengine's dump of
    the config, scalars.json and the log with the final per-class tables."""
    work_dir = root / name / f'seed_{seed}'
    write_scalars(work_dir, '20261206_090000', [train_line(400), val(400, miou, mbiou)])
    write_log(work_dir, '20261206_090000',
              log_train(400, 400) + log_tables(iou, {c: v / 2 for c, v in iou.items()}))
    (work_dir / f'{name}.py').write_text('train_cfg = dict(type="IterBasedTrainLoop", '
                                         'max_iters=400, val_interval=200)\n')


def test_tool_summarises_keys_pairs_and_classes_of_finished_runs(tmp_path, monkeypatch, capsys):
    root = tmp_path / 'study'
    for seed in range(5):
        fake_run(root, 'base', seed, 60.0 + seed, 40.0, {'sky': 80.0, 'wire': 10.0 * seed})
        fake_run(root, 'fdam', seed, 61.0 + 2 * seed, 41.0 + seed, {'sky': 81.0, 'wire': 50.0})
    out = tmp_path / 'seeds.jsonl'
    run_seed_study(monkeypatch, 'configs/base.py', 'configs/fdam.py', '--seeds', 0, 1, 2, 3, 4,
                   '--work-dir-root', root, '--keys', 'mIoU', 'mBIoU', '--pairs', 'base:fdam',
                   '--summarise-only', '--out', out)
    printed = capsys.readouterr().out
    assert '| base | 60.00 | 61.00 | 62.00 | 63.00 | 64.00 | 1.58 | 62.00 ± 1.96 |' in printed
    # differences 1, 2, 3, 4, 5: the same interval
    assert '| fdam - base | 1.00 | 2.00 | 3.00 | 4.00 | 5.00 | 1.58 | 3.00 ± 1.96 |' in printed
    assert '| base | 80.00 | 0.00 |' in printed  # seed 0 missed the wire
    base, fdam, pair = (json.loads(line) for line in out.read_text().splitlines())
    assert base['config'] == 'configs/base.py' and base['seeds'] == [0, 1, 2, 3, 4]
    assert base['metrics']['mIoU']['values'] == [60.0, 61.0, 62.0, 63.0, 64.0]
    assert base['metrics']['mIoU']['ci95'] == pytest.approx(1.9632, abs=1e-4)
    assert base['metrics']['mBIoU']['std'] == 0.0
    assert base['class_iou_min'] == {'sky': 80.0, 'wire': 0.0}
    assert base['class_iou']['3'] == {'sky': 80.0, 'wire': 30.0}
    assert base['class_biou']['3'] == {'sky': 40.0, 'wire': 15.0}
    assert base['train_seconds'] == {}
    assert fdam['metrics']['mBIoU']['mean'] == 43.0
    assert (pair['baseline'], pair['other']) == ('base', 'fdam')
    assert pair['differences']['mIoU']['values'] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert pair['differences']['mBIoU']['values'] == [1.0, 2.0, 3.0, 4.0, 5.0]
    # per class: wire 50 against 0, 10, .., 40 (IoU), half of that (Boundary IoU)
    assert 'fdam - base: per-class IoU, paired differences' in printed
    assert '| wire | 50.00 | 40.00 | 30.00 | 20.00 | 10.00 | 15.81 | 30.00 ± 19.63 |' in printed
    assert '| sky | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 0.00 | 1.00 ± 0.00 |' in printed
    assert pair['class_differences']['BIoU']['wire']['values'] == [25.0, 20.0, 15.0, 10.0, 5.0]
    assert pair['class_differences']['BIoU']['wire']['ci95'] == pytest.approx(9.8162, abs=1e-4)


def test_summarise_only_names_every_run_without_its_final_metrics(tmp_path, monkeypatch):
    root = tmp_path / 'study'
    fake_run(root, 'base', 0, 60.0, 40.0, {'sky': 80.0})
    fake_run(root, 'base', 1, 61.0, 40.0, {'sky': 80.0})
    write_scalars(root / 'base' / 'seed_1', '20261206_100000', [val(200, 99.0)])
    out = tmp_path / 'seeds.jsonl'
    with pytest.raises(SystemExit) as error:
        run_seed_study(monkeypatch, 'configs/base.py', 'configs/fdam.py', '--seeds', 0, 1,
                       '--work-dir-root', root, '--summarise-only', '--out', out)
    message = str(error.value.code)
    assert message.startswith('error: --summarise-only: no final mIoU in')
    # base seed 1's newer log (a restart) has no 400: its older final values count
    missing = [str(root / 'fdam' / 'seed_0'), str(root / 'fdam' / 'seed_1')]
    assert all(work_dir in message for work_dir in missing)
    assert str(root / 'base') not in message
    assert not out.exists()


@pytest.mark.parametrize('pair, error', [('base:other', '--pairs base:other: not two of'),
                                         ('base', "'base' is not BASELINE:OTHER")])
def test_pairs_must_name_two_of_the_configs(tmp_path, monkeypatch, capsys, pair, error):
    with pytest.raises(SystemExit) as exit_:
        run_seed_study(monkeypatch, 'configs/base.py', 'configs/fdam.py', '--work-dir-root',
                       tmp_path, '--pairs', pair, '--summarise-only')
    assert exit_.value.code == 2 and error in capsys.readouterr().err
