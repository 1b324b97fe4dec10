"""The runs of a seed study (``tools/analysis_tools/seed_study.py``): one config
trained with several ``randomness.seed`` values, each in its own work dir."""
import glob
import json
import math
import os.path as osp
import re
import statistics
from itertools import takewhile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from scipy.stats import t as student_t

# the title mmseg's IoUMetric / mmfreq's BoundaryIoUMetric log before their
# per-class table -> the table's column read
TABLE_TITLES = {'per class results:': 'IoU', 'per class boundary IoU:': 'BIoU'}
TRAIN_ITER = re.compile(r'Iter\(train\) \[\s*(\d+)/')


def final_metric(work_dir: str, key: str, step: int) -> Optional[float]:
    """The ``key`` a run logged at iteration ``step`` (its final validation), or
    None if no log has it: the newest of mmengine's ``TIMESTAMP/vis_data/
    scalars.json`` (one per start of a run) with such a line wins, and lines cut
    short by a kill are skipped.

    Args:
        work_dir (str): The run's work dir.
        key (str): A validation metric, e.g. ``'mIoU'``.
        step (int): The iteration of the final validation (``max_iters``).
    """
    found = None
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                try:
                    scalars = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if scalars.get('step') == step and key in scalars:
                    found = float(scalars[key])
    return found


def log_tables(path: str) -> Iterator[Tuple[int, str, Dict[str, float]]]:
    """The per-class tables of an mmengine log file, in order.

    Yields ``(iteration, column, {class: value})``: the iteration of the last
    training line before the table, ``'IoU'`` or ``'BIoU'`` (see
    :data:`TABLE_TITLES`) and that column of the table. Tables before any
    training line (a test run's) and tables cut short are skipped.

    Args:
        path (str): A ``TIMESTAMP/TIMESTAMP.log`` of a work dir.
    """
    with open(path) as f:
        lines = f.read().splitlines()
    iteration = None
    for i, line in enumerate(lines):
        match = TRAIN_ITER.search(line)
        if match:
            iteration = int(match.group(1))
        column = TABLE_TITLES.get(line.rstrip().rpartition(' - ')[2])  # the message
        if column is None or iteration is None:
            continue
        # the title's line, a log line with an empty message, then the table:
        # border, header, border, one row per class, border
        table = list(takewhile(lambda row: row.startswith(('|', '+')), lines[i + 2:]))
        if len(table) < 5 or not table[-1].startswith('+'):
            continue
        header, *rows = [[cell.strip() for cell in row.strip('|').split('|')]
                         for row in table if row.startswith('|')]
        at = header.index(column)
        yield iteration, column, {row[0]: float(row[at]) for row in rows}


def per_class(work_dir: str, step: int) -> Dict[str, Dict[str, float]]:
    """The per-class tables of a run's last validation at or before ``step``:
    ``{'IoU': {class: IoU}}``, with ``'BIoU'`` where Boundary IoU was logged
    with it; ``{}`` if no log has one. The newest
    ``TIMESTAMP/TIMESTAMP.log`` with such a table wins.

    Args:
        work_dir (str): The run's work dir.
        step (int): The iteration of the final validation (``max_iters``).
    """
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.log')), reverse=True):
        tables: Dict[str, Dict[str, float]] = {}
        for iteration, column, table in log_tables(path):
            if iteration > step:
                continue
            if column == 'IoU':  # a new validation: its boundary table follows
                tables = {}
            tables[column] = table
        if 'IoU' in tables:
            return tables
    return {}


def ci95(values: Sequence[float]) -> Optional[float]:
    """Half-width of the 95% Student t confidence interval of the mean of
    ``values`` (``t(0.975, n - 1) * std / sqrt(n)``); None for one value."""
    n = len(values)
    if n < 2:
        return None
    return float(student_t.ppf(0.975, n - 1)) * statistics.stdev(values) / math.sqrt(n)


def summarise(values: Dict[int, float]) -> Dict[str, object]:
    """``seeds`` and ``values`` in seed order, ``mean``, sample ``std`` (n - 1)
    and ``ci95`` (:func:`ci95`; std and ci95 None for one run) of a seed ->
    value dict."""
    seeds = sorted(values)
    ordered = [values[s] for s in seeds]
    return dict(seeds=seeds, values=ordered, mean=statistics.fmean(ordered),
                std=statistics.stdev(ordered) if len(ordered) > 1 else None,
                ci95=ci95(ordered))


def paired(baseline: Dict[int, float], other: Dict[int, float]) -> Dict[str, object]:
    """:func:`summarise` of the per-seed differences ``other - baseline`` over
    the seeds both have: its ``ci95`` is the paired t interval's half-width."""
    return summarise({s: other[s] - baseline[s] for s in baseline if s in other})


def class_differences(baseline: Dict[int, Dict[str, float]],
                      other: Dict[int, Dict[str, float]]) -> Dict[str, Dict[str, object]]:
    """Per class, :func:`paired` of two seed -> {class: value} dicts over the
    seeds where both have the class; classes in the order of the baseline's
    first table, those the two never share left out."""
    classes = dict.fromkeys(c for seed in sorted(baseline) for c in baseline[seed])
    result = {}
    for name in classes:
        ours = {s: table[name] for s, table in baseline.items() if name in table}
        theirs = {s: table[name] for s, table in other.items() if name in table}
        if ours.keys() & theirs.keys():  # paired() keeps the seeds both have
            result[name] = paired(ours, theirs)
    return result


def class_minimum(tables: Dict[int, Dict[str, float]]) -> Dict[str, float]:
    """Each class's minimum over the seeds of a seed -> {class: value} dict,
    classes in the order of the first seed's table."""
    classes: Dict[str, List[float]] = {}
    for seed in sorted(tables):
        for name, value in tables[seed].items():
            classes.setdefault(name, []).append(value)
    return {name: min(values) for name, values in classes.items()}


def format_table(rows: Dict[str, Dict[str, object]], key: str, label: str = 'config') -> str:
    """A Markdown table of name -> :func:`summarise` rows: one column per seed,
    the std, then ``key`` mean ± 95% CI half-width; ``label`` heads the names."""
    seeds: Sequence[int] = sorted({s for row in rows.values() for s in row['seeds']})
    lines = [' | '.join([label, *(f'seed {s}' for s in seeds), 'std',
                         f'{key} mean ± 95% CI']),
             ' | '.join(['---'] * (len(seeds) + 3))]
    for name, row in rows.items():
        by_seed = dict(zip(row['seeds'], row['values']))
        cells = [f'{by_seed[s]:.2f}' if s in by_seed else '-' for s in seeds]
        std = '-' if row['std'] is None else f'{row["std"]:.2f}'
        half = '-' if row['ci95'] is None else f'{row["ci95"]:.2f}'
        lines.append(' | '.join([name, *cells, std, f'{row["mean"]:.2f} ± {half}']))
    return '\n'.join(f'| {line} |' for line in lines)


def format_class_minimum(minima: Dict[str, Dict[str, float]]) -> str:
    """A Markdown table of config name -> :func:`class_minimum`: one column per
    class (every config's, in order of appearance; ``-`` where a config has none)."""
    classes = list(dict.fromkeys(c for row in minima.values() for c in row))
    lines = [' | '.join(['config', *classes]), ' | '.join(['---'] * (len(classes) + 1))]
    for name, row in minima.items():
        lines.append(' | '.join([name, *(f'{row[c]:.2f}' if c in row else '-'
                                         for c in classes)]))
    return '\n'.join(f'| {line} |' for line in lines)
