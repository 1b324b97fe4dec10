"""Training curves and training time from mmengine's ``scalars.json`` logs.

    python tools/analysis_tools/analyze_logs.py plot_curve \\
        work_dirs/RUN/TIMESTAMP/vis_data/scalars.json [more.json ...] \\
        --keys loss mIoU [--title T] [--legend A B ...] [--out curve.png]
    python tools/analysis_tools/analyze_logs.py cal_train_time scalars.json [...]

As mmdet's and mmseg's script of the same name: one line of the log per
logged training iteration (``iter``, ``loss``, ``lr``, ``time``, ...) or per
validation (``mIoU``, ``coco/bbox_mAP``, ...), each with its ``step``. Every
key gets its own panel; training keys are plotted against the iteration,
validation keys against the iteration or, in epoch-based runs, the epoch.
"""
import argparse
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from mmfreq.cli.errors import add_debug_argument, debugging, exit_on_error


class LogKeyError(KeyError):
    """A requested key is in none of a log's lines."""

    def __str__(self) -> str:
        return self.args[0]


def load_scalars(path: str) -> List[dict]:
    """The JSON lines of an mmengine ``scalars.json`` (blank lines skipped)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'log {path!r} does not exist (expected a '
                                'WORK_DIR/TIMESTAMP/vis_data/scalars.json)')
    lines = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}, line {number}: not JSON ({err.msg})') from err
    return lines


def curve(lines: Sequence[dict], key: str, path: str) -> Tuple[List[float], List[float], str]:
    """(x, y, x label) of ``key``: the iteration for training lines; for
    validation lines the step, which is the epoch in epoch-based runs."""
    rows = [line for line in lines if key in line]
    if not rows:
        present = sorted({k for line in lines for k in line} - {'step'})
        raise LogKeyError(f'key {key!r} is not in {path}; its keys are: {", ".join(present)}')
    if all('iter' in row for row in rows):
        return [row['iter'] for row in rows], [row[key] for row in rows], 'iter'
    epoch_based = any('epoch' in line for line in lines)
    return [row['step'] for row in rows], [row[key] for row in rows], \
        'epoch' if epoch_based else 'iter'


def plot_curve(logs: Dict[str, List[dict]], keys: Sequence[str], out: Optional[str],
               title: Optional[str] = None, legend: Optional[Sequence[str]] = None) -> None:
    """One panel per key with one curve per log; saved to ``out`` or shown.

    Args:
        logs: Log path -> its lines.
        keys: Keys to plot, e.g. ``['loss', 'mIoU']``.
        out: Image file to write; None shows the figure.
        title: Figure title.
        legend: One label per (log, key) pair, logs outer; default ``log: key``.
    """
    import matplotlib
    if out:
        matplotlib.use('Agg')  # no display needed to write a file
    import matplotlib.pyplot as plt

    pairs = [(path, key) for path in logs for key in keys]
    if legend is None:
        legend = [f'{label_of(path, list(logs))}: {key}' for path, key in pairs]
    elif len(legend) != len(pairs):
        raise ValueError(f'--legend has {len(legend)} labels; {len(logs)} logs x {len(keys)} '
                         f'keys need {len(pairs)}')
    curves = {pair: curve(logs[pair[0]], pair[1], pair[0]) for pair in pairs}
    figure, axes = plt.subplots(len(keys), 1, figsize=(7, 3 * len(keys)), squeeze=False)
    for row, key in enumerate(keys):
        ax = axes[row][0]
        for (path, pair_key), label in zip(pairs, legend):
            if pair_key == key:
                xs, ys, unit = curves[(path, key)]
                ax.plot(xs, ys, marker='o' if len(xs) < 20 else None, label=label)
                ax.set_xlabel(unit)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if out:
        figure.savefig(out, dpi=100)
        print(f'curve of {", ".join(keys)} saved to {out}')
    else:
        plt.show()
    plt.close(figure)


def label_of(path: str, paths: Sequence[str]) -> str:
    """A short name for a log: its run folder (``WORK_DIR/TIMESTAMP``) when
    several logs are plotted, else the work dir's name."""
    run_dir = osp.dirname(osp.dirname(osp.abspath(path)))  # .../TIMESTAMP
    if len(paths) > 1:
        return osp.join(osp.basename(osp.dirname(run_dir)), osp.basename(run_dir))
    return osp.basename(osp.dirname(run_dir))


def train_time(lines: Sequence[dict]) -> Tuple[float, float, int, int]:
    """(mean, std) seconds per iteration over the logged training lines, and
    the slowest and fastest logged iteration."""
    rows = [line for line in lines if 'iter' in line and 'time' in line]
    if not rows:
        raise LogKeyError('no training line with both "iter" and "time" in the log')
    times = [row['time'] for row in rows]
    slowest = max(rows, key=lambda row: row['time'])['iter']
    fastest = min(rows, key=lambda row: row['time'])['iter']
    return statistics.mean(times), statistics.pstdev(times), slowest, fastest


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyse mmengine scalars.json logs')
    add_debug_argument(parser)
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='plot keys of one or more logs')
    plot.add_argument('json_logs', nargs='+', help='scalars.json files')
    plot.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--legend', nargs='+', help='one label per (log, key) pair, logs outer')
    plot.add_argument('--out', help='image to write (default: show the figure)')
    timing = commands.add_parser('cal_train_time', help='mean time per training iteration')
    timing.add_argument('json_logs', nargs='+', help='scalars.json files')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    with exit_on_error(FileNotFoundError, ValueError, LogKeyError, debug=debugging(args)):
        logs = {path: load_scalars(path) for path in args.json_logs}
        if args.command == 'plot_curve':
            plot_curve(logs, args.keys, args.out, args.title, args.legend)
            return
        for path, lines in logs.items():
            mean, std, slowest, fastest = train_time(lines)
            print(f'{path}: {mean:.4f} s/iter (std {std:.4f}); slowest logged iter '
                  f'{slowest}, fastest {fastest}')


if __name__ == '__main__':
    main()
