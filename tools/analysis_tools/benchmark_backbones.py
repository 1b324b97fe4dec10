"""mmfreq's backbones against their reference formulations, eager and compiled.

    python tools/analysis_tools/benchmark_backbones.py [--families van focal aa_resnet fdam]
        [--arch van=b2 focal=tiny aa_resnet=50 fdam=base] [--modes inference training_step]
        [--inference-sizes 512] [--train-sizes 512 224] [--batch 2]
        [--device cpu|cuda] [--no-compile] [--iters 3] [--out benchmarks/results/backbones.jsonl]
    python tools/analysis_tools/benchmark_backbones.py --families freq_scale --arch freq_scale=96
    python tools/analysis_tools/benchmark_backbones.py --families fdam_mit fdam_deit_s
    python tools/analysis_tools/benchmark_backbones.py --families fdam_mit_ablation --no-compile
    python tools/analysis_tools/benchmark_backbones.py --families fdam_layers
        [--arch fdam_layers=mit_b0|deit_s|deit3_b]

Each family (``mmfreq/analysis/backbone_benchmarks.py``) compares mmfreq's
backbone with the same weights in a reference formulation
(``mmfreq/reference``: mmpretrain's VAN, Focal's rolled formulation,
AA-Conv's paper formulation, FDAM's explicit AttInv and FreqScale), and a
bound: the network with its attention at no cost (for FDAM-DeiT3 the plain
ViT). ``freq_scale`` times one FreqScale with each of its transforms on
square grids (sizes are the grid sides). ``fdam_mit`` (SegFormer's MiT,
default B0) and ``fdam_deit_s`` (mmseg's DeiT-S ViT) time FDAM's cost over
its host: the reference is the host without FDAM (mmfreq's class with FDAM
off), the FDAM models compute another function, and mmseg's own module on
the same weights is the parity check. ``fdam_mit_ablation`` times FDAM-MiT
with FreqScale's num_filters in {2, 4, 8} and groups in {8, 16, 32} over
the plain MiT. ``fdam_layers`` times one use of FreqScale and of AttInv
on each grid of a host at 512x512 (``mit_b0``, ``deit_s``, ``deit3_b``)
against the bare ``rfft2`` + ``irfft2`` pair on the same map, with the
flops of each. Every line also records each model's parameter count.

Every row (a mode at one input size; a family's default rows unless sizes
are given) times all models in one process, interleaved round by round, eager and, unless
``--no-compile``, compiled (``torch.compile``, inductor; compiling is not
timed); the peak memory of each model's pass is measured in a fresh
process on the CPU, by the allocator on CUDA. Before timing, every output
of each model is compared with the reference's on the row's input. One JSON
line per row is appended to ``--out`` as soon as the row is done;
``tools/analysis_tools/benchmark_tables.py`` makes docs/benchmarks.md's
tables from them.
"""
import argparse
import functools
import shlex
import sys
import time
from typing import Optional

import torch

from mmfreq.analysis.backbone_benchmarks import (
    FAMILIES,
    MODES,
    Row,
    output_differences,
    parameter_counts,
    row_record,
)
from mmfreq.analysis.benchmarking import (
    Compiled,
    benchmark_parser,
    compare_models,
    print_comparison,
    save_record,
    start_record,
)

DEFAULT_FAMILIES = ('van', 'focal', 'aa_resnet', 'fdam')


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__, 'benchmarks/results/backbones.jsonl')
    parser.add_argument('--families', nargs='+', choices=sorted(FAMILIES),
                        default=list(DEFAULT_FAMILIES))
    parser.add_argument('--arch', nargs='*', default=[], metavar='FAMILY=ARCH',
                        help="arch per family (defaults: each family's)")
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--inference-sizes', type=int, nargs='*',
                        help="square inference inputs (default: each family's)")
    parser.add_argument('--train-sizes', type=int, nargs='*',
                        help="square training-step inputs (default: each family's)")
    parser.add_argument('--batch', type=int,
                        help="training-step batch (default: each family's)")
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes per model')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--no-compile', dest='compile', action='store_false',
                        help='eager models only')
    args = parser.parse_args(argv)
    arches = {}
    for entry in args.arch:
        family, sep, arch = entry.partition('=')
        if not sep or family not in FAMILIES:
            parser.error(f'--arch {entry!r}: write FAMILY=ARCH with FAMILY one of '
                         f'{", ".join(sorted(FAMILIES))}')
        arches[family] = arch
    args.arch = arches
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: torch sees no CUDA device')
    return args


def rows_of(family_name: str, args: argparse.Namespace, arch: Optional[str] = None):
    """The default rows of the family (of ``arch``, default its own) in ``--modes``,
    with the sizes and batch asked for."""
    family = FAMILIES[family_name]
    rows = [row for row in family.rows_for(arch or family.default_arch)
            if row.mode in args.modes]
    sizes = dict(inference=args.inference_sizes, training_step=args.train_sizes)
    for mode in args.modes:
        if sizes[mode] is not None:
            batch = next((r.batch for r in rows if r.mode == mode), 1)
            if mode == 'training_step' and args.batch is not None:
                batch = args.batch
            rows = [r for r in rows if r.mode != mode] + [Row(mode, (s, s), batch)
                                                          for s in sizes[mode]]
        elif mode == 'training_step' and args.batch is not None:
            rows = [Row(r.mode, r.size, args.batch) if r.mode == mode else r for r in rows]
    return sorted(rows, key=lambda r: MODES.index(r.mode))


def run_row(family_name: str, arch: str, row: Row, args: argparse.Namespace,
            environment: dict) -> dict:
    """Time and compare every model of one row; return its record."""
    family = FAMILIES[family_name]
    differences = output_differences(family, arch, row, args.device)
    builders = {name: functools.partial(family.build, arch, name, row.size)
                for name in family.models_of(row)}
    if args.compile:
        torch._dynamo.reset()  # each row compiles for its own shape and mode
        builders.update({f'{name}_compiled': Compiled(builders[name])
                         for name in family.compiled})
    shape = family.shape(arch, row)
    backward = row.mode == 'training_step'
    results = compare_models(builders, shape, 'reference', args.iters, args.warmup, backward,
                             args.device)
    print_comparison(f'{family.title} {arch}, {row.mode}, {"x".join(map(str, shape))}, '
                     f'{args.device} ({args.threads} threads); reference: {family.reference}',
                     results)
    if differences:
        print('  largest |output - reference output|: ' +
              ', '.join(f'{name} {d:.1e}' for name, d in differences.items()))
    return row_record(family_name, arch, row, results, differences,
                      parameter_counts(family, arch, row), environment)


def main(argv=None) -> None:
    args = parse_args(argv)
    command = 'python tools/analysis_tools/benchmark_backbones.py ' + shlex.join(
        sys.argv[1:] if argv is None else argv)
    run = time.strftime('%Y-%m-%dT%H:%M:%S')
    for family_name in args.families:
        arch = args.arch.get(family_name, FAMILIES[family_name].default_arch)
        for row in rows_of(family_name, args, arch):
            environment = start_record(args, args.device, run=run, command=command)
            save_record(args, run_row(family_name, arch, row, args, environment))


if __name__ == '__main__':
    main()
