"""Train configs with several seeds and report the mean ± std of their final metric.

    python tools/analysis_tools/seed_study.py CONFIG [CONFIG ...] [--seeds 0 1 2] \\
        [--work-dir-root work_dirs/seed_study] [--key mIoU] \\
        [--out benchmarks/results/seeds.jsonl] [--cfg-options key=value ...]

Each run is ``tools/train.py CONFIG --work-dir ROOT/<config name>/seed_<S>
--cfg-options randomness.seed=S [...]`` in a subprocess, one after another,
seed by seed (every config's seed 0, then every config's seed 1, ...), its
output in ``train.log`` of its work dir. The final metric is the ``--key``
the run logged at its last iteration (``train_cfg.max_iters`` of the config
mmengine saved in the work dir). Resumable: a run whose work dir has that
value is not trained again, one cut short resumes from its newest
checkpoint. At the end, a table of every seed's value and mean ± sample std
(n - 1) per config, and one JSON line per config appended to ``--out``.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import Config

from mmfreq.analysis.benchmarking import append_result
from mmfreq.analysis.seed_study import final_metric, format_table, summarise

TRAIN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'train.py')


def name_of(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def finished(config: str, work_dir: str, key: str) -> Optional[float]:
    """The final ``key`` of the run in ``work_dir``, None if it has none yet."""
    saved = osp.join(work_dir, osp.basename(config))  # mmengine's dump, cfg-options applied
    if not osp.isfile(saved):
        return None
    return final_metric(work_dir, key, Config.fromfile(saved).train_cfg.max_iters)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-dir-root', default='work_dirs/seed_study')
    parser.add_argument('--key', default='mIoU', help='final validation metric')
    parser.add_argument('--out', default='benchmarks/results/seeds.jsonl',
                        help='JSON-lines file the summary per config is appended to')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every tools/train.py run')
    args = parser.parse_args()

    values: Dict[str, Dict[int, float]] = {c: {} for c in args.configs}
    seconds: Dict[str, Dict[int, float]] = {c: {} for c in args.configs}
    for seed in args.seeds:
        for config in args.configs:
            work_dir = osp.join(args.work_dir_root, name_of(config), f'seed_{seed}')
            value = finished(config, work_dir, args.key)
            if value is None:
                seconds[config][seed] = round(train(config, seed, work_dir, args.cfg_options), 1)
                value = finished(config, work_dir, args.key)
                if value is None:
                    sys.exit(f'error: {name_of(config)} seed {seed}: no final {args.key} in the '
                             f'logs of {work_dir}')
                took = f'trained in {seconds[config][seed]:.0f} s'
            else:
                took = 'already trained'
            values[config][seed] = value
            print(f'{name_of(config)} seed {seed}: {args.key} {value:.2f} ({took})', flush=True)

    rows = {name_of(c): summarise(values[c]) for c in args.configs}
    print(format_table(rows, args.key))
    for config in args.configs:
        append_result(args.out, dict(
            config=config, key=args.key, **rows[name_of(config)],
            work_dirs=[osp.join(args.work_dir_root, name_of(config), f'seed_{s}')
                       for s in args.seeds],
            cfg_options=args.cfg_options,
            train_seconds={str(s): t for s, t in seconds[config].items()},
            cpu_count=os.cpu_count(), load_average=[round(v, 2) for v in os.getloadavg()],
            time=time.strftime('%Y-%m-%dT%H:%M:%S')))
    print(f'appended {len(args.configs)} lines to {args.out}')


if __name__ == '__main__':
    main()
