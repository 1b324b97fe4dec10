"""The runs of a seed study (``tools/analysis_tools/seed_study.py``): one config
trained with several ``randomness.seed`` values, each in its own work dir."""
import glob
import json
import os.path as osp
import statistics
from typing import Dict, Optional, Sequence


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


def summarise(values: Dict[int, float]) -> Dict[str, object]:
    """``seeds`` and ``values`` in seed order, ``mean`` and sample ``std`` (n - 1;
    None for one run) of a seed -> final metric dict."""
    seeds = sorted(values)
    ordered = [values[s] for s in seeds]
    return dict(seeds=seeds, values=ordered, mean=statistics.fmean(ordered),
                std=statistics.stdev(ordered) if len(ordered) > 1 else None)


def format_table(rows: Dict[str, Dict[str, object]], key: str) -> str:
    """A Markdown table of config name -> :func:`summarise` rows: one column per
    seed, then ``key`` mean ± std."""
    seeds: Sequence[int] = sorted({s for row in rows.values() for s in row['seeds']})
    lines = [' | '.join(['config', *(f'seed {s}' for s in seeds), f'{key} mean ± std']),
             ' | '.join(['---'] * (len(seeds) + 2))]
    for name, row in rows.items():
        by_seed = dict(zip(row['seeds'], row['values']))
        cells = [f'{by_seed[s]:.2f}' if s in by_seed else '-' for s in seeds]
        std = '-' if row['std'] is None else f'{row["std"]:.2f}'
        lines.append(' | '.join([name, *cells, f'{row["mean"]:.2f} ± {std}']))
    return '\n'.join(f'| {line} |' for line in lines)
