"""Train configs with several seeds and report their final metrics with 95% intervals.

    python tools/analysis_tools/seed_study.py CONFIG [CONFIG ...] [--seeds 0 1 2] \\
        [--work-dir-root work_dirs/seed_study] [--keys mIoU [mBIoU ...]] \\
        [--pairs BASELINE:OTHER ...] [--summarise-only] \\
        [--out benchmarks/results/seeds.jsonl] [--cfg-options key=value ...]

Each run is ``tools/train.py CONFIG --work-dir ROOT/<config name>/seed_<S>
--cfg-options randomness.seed=S [...]`` in a subprocess, one after another,
seed by seed (every config's seed 0, then every config's seed 1, ...), its
output in ``train.log`` of its work dir. The final metrics are the ``--keys``
the run logged at its last iteration (``train_cfg.max_iters`` of the config
mmengine saved in the work dir). Resumable: a run whose work dir has those
values is not trained again, one cut short resumes from its newest
checkpoint. With ``--summarise-only`` nothing is trained: a run without its
final metrics is an error that names its work dir.

At the end, Markdown tables: per key, every seed's value, the sample std and
mean ± the half-width of the 95% Student t interval of the mean; per
``--pairs`` entry (config names, the file names without ``.py``) and key, the
per-seed differences OTHER - BASELINE with their mean ± paired 95% t interval;
per config, each class's minimum IoU over the seeds (from the last per-class
table of each run's log); per pair, each class's IoU (and Boundary IoU where
logged) differences with their paired intervals. One JSON line per config and
one per pair are appended to ``--out``.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

from mmfreq.analysis.benchmarking import append_result
from mmfreq.analysis.seed_study import (
    class_differences,
    class_minimum,
    final_metric,
    format_class_minimum,
    format_table,
    paired,
    per_class,
    summarise,
)

TRAIN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'train.py')


def name_of(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def final_step(config: str, work_dir: str) -> Optional[int]:
    """``train_cfg.max_iters`` of the run in ``work_dir``, None before it started."""
    saved = osp.join(work_dir, osp.basename(config))  # mmengine's dump, cfg-options applied
    return Config.fromfile(saved).train_cfg.max_iters if osp.isfile(saved) else None


def finished(config: str, work_dir: str, keys: List[str]) -> Optional[Dict[str, float]]:
    """The final value of every key of the run in ``work_dir``, None if one is missing."""
    step = final_step(config, work_dir)
    if step is None:
        return None
    values = {key: final_metric(work_dir, key, step) for key in keys}
    return None if None in values.values() else values


def train(config: str, seed: int, work_dir: str, options: List[str]) -> float:
    """Run tools/train.py (resuming when the work dir has a checkpoint); seconds taken."""
    command = [sys.executable, TRAIN, config, '--work-dir', work_dir,
               '--cfg-options', f'randomness.seed={seed}', *options]
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        command.append('--resume')
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(work_dir, 'train.log')
    print(f'{name_of(config)} seed {seed}: training in {work_dir} (output: {log})', flush=True)
    start = time.perf_counter()
    with open(log, 'a') as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
    if code:
        sys.exit(f'error: {name_of(config)} seed {seed}: tools/train.py exited with status '
                 f'{code}; see {log}')
    return time.perf_counter() - start


def pair(text: str) -> Tuple[str, str]:
    """``'BASELINE:OTHER'`` -> ``(BASELINE, OTHER)``."""
    baseline, colon, other = text.partition(':')
    if not (baseline and colon and other):
        raise argparse.ArgumentTypeError(f'{text!r} is not BASELINE:OTHER')
    return baseline, other


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-dir-root', default='work_dirs/seed_study')
    parser.add_argument('--keys', '--key', nargs='+', default=['mIoU'],
                        help='final validation metrics')
    parser.add_argument('--pairs', type=pair, nargs='+', default=[], metavar='BASELINE:OTHER',
                        help='config names whose per-seed differences OTHER - BASELINE '
                             'are summarised')
    parser.add_argument('--summarise-only', action='store_true',
                        help='train nothing: fail if a run has no final metrics')
    parser.add_argument('--out', default='benchmarks/results/seeds.jsonl',
                        help='JSON-lines file the summary per config and pair is appended to')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every tools/train.py run')
    args = parser.parse_args()
    names = [name_of(c) for c in args.configs]
    for baseline, other in args.pairs:
        if not {baseline, other} <= set(names):
            parser.error(f'--pairs {baseline}:{other}: not two of the config names {names}')
    return args


def main() -> None:
    args = parse_args()
    keys, names = args.keys, [name_of(c) for c in args.configs]
    values: Dict[str, Dict[str, Dict[int, float]]] = {n: {k: {} for k in keys} for n in names}
    tables: Dict[str, Dict[int, Dict[str, Dict[str, float]]]] = {n: {} for n in names}
    seconds: Dict[str, Dict[int, float]] = {n: {} for n in names}
    missing = []
    for seed in args.seeds:
        for config, name in zip(args.configs, names):
            work_dir = osp.join(args.work_dir_root, name, f'seed_{seed}')
            final = finished(config, work_dir, keys)
            if final is None and args.summarise_only:
                missing.append(work_dir)
                continue
            if final is None:
                seconds[name][seed] = round(train(config, seed, work_dir, args.cfg_options), 1)
                final = finished(config, work_dir, keys)
                if final is None:
                    sys.exit(f'error: {name} seed {seed}: no final {", ".join(keys)} in the '
                             f'logs of {work_dir}')
                took = f'trained in {seconds[name][seed]:.0f} s'
            else:
                took = 'already trained'
            for key, value in final.items():
                values[name][key][seed] = value
            tables[name][seed] = per_class(work_dir, final_step(config, work_dir))
            print(f'{name} seed {seed}: '
                  + ', '.join(f'{k} {v:.2f}' for k, v in final.items()) + f' ({took})',
                  flush=True)
    if missing:
        sys.exit(f'error: --summarise-only: no final {", ".join(keys)} in '
                 + ', '.join(missing))

    rows = {n: {k: summarise(values[n][k]) for k in keys} for n in names}
    pairs = {(b, o): {k: paired(values[b][k], values[o][k]) for k in keys}
             for b, o in args.pairs}
    ious = {n: {s: t['IoU'] for s, t in tables[n].items() if 'IoU' in t} for n in names}
    bious = {n: {s: t['BIoU'] for s, t in tables[n].items() if 'BIoU' in t} for n in names}
    minima = {n: class_minimum(ious[n]) for n in names}
    by_class = {(b, o): {'IoU': class_differences(ious[b], ious[o]),
                         'BIoU': class_differences(bious[b], bious[o])} for b, o in args.pairs}
    for key in keys:
        print(f'\n{key}, final validation\n\n' + format_table({n: rows[n][key] for n in names},
                                                              key))
        if pairs:
            print(f'\n{key}, paired differences\n\n' + format_table(
                {f'{o} - {b}': d[key] for (b, o), d in pairs.items()}, f'Δ{key}',
                label='OTHER - BASELINE'))
    print('\nper-class IoU, minimum over the seeds\n\n' + format_class_minimum(minima))
    for (baseline, other), tables_of_pair in by_class.items():
        for what, differences in tables_of_pair.items():
            if differences:
                print(f'\n{other} - {baseline}: per-class {what}, paired differences\n\n'
                      + format_table(differences, f'Δ{what}', label='class'))

    record = dict(seeds=args.seeds, cfg_options=args.cfg_options, cpu_count=os.cpu_count(),
                  load_average=[round(v, 2) for v in os.getloadavg()],
                  time=time.strftime('%Y-%m-%dT%H:%M:%S'))
    for config, name in zip(args.configs, names):
        append_result(args.out, dict(
            config=config, metrics=rows[name], class_iou_min=minima[name],
            class_iou={str(s): t for s, t in ious[name].items()},
            class_biou={str(s): t for s, t in bious[name].items()},
            work_dirs=[osp.join(args.work_dir_root, name, f'seed_{s}') for s in args.seeds],
            train_seconds={str(s): t for s, t in seconds[name].items()}, **record))
    for (baseline, other), differences in pairs.items():
        append_result(args.out, dict(baseline=baseline, other=other, differences=differences,
                                     class_differences=by_class[baseline, other], **record))
    print(f'\nappended {len(names) + len(pairs)} lines to {args.out}')


if __name__ == '__main__':
    main()
