"""AA-ResNet-50 against the paper's formulation of its attention: inference and
training step, eager and compiled.

    python tools/analysis_tools/benchmark_aa_resnet.py [--size 512] [--train-sizes 512 224] \\
        [--batch 2] [--iters 3] [--no-compile]

The reference is the same network with every :class:`AAConv2d` computing its
logits as the paper writes them, ``q_i . (k_j + r^W + r^H)`` from an explicit
(HW, HW, d) offset-embedding tensor (:class:`mmfreq.testing.reference.
TextbookAAConv2d`), with the same weights. Rows: inference (no grad, 1 x 3 x
size x size) and a training step (forward + backward, train mode, batch x 3 x
s x s) with stages 3-4 augmented, as the detection configs; and a training
step at 224 with stages 2-4, as ``configs/aa_r50_in1k.py``. In each row every
model is timed interleaved in one process, eager and compiled
(``torch.compile``, inductor), and the peak memory of its pass is measured in a
fresh process. The ``attention_free`` model (each AA-Conv reduced to its
convolution and 1x1 projections) bounds the ratio any attention
implementation could reach. One JSON line per run goes to ``--out``.
"""
import argparse
import functools
from typing import Dict, Sequence

import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    Builder,
    Compiled,
    benchmark_parser,
    compare_models,
    print_comparison,
    save_record,
    start_record,
)
from mmfreq.models import AAResNet
from mmfreq.models.layers import AAConv2d
from mmfreq.testing.attention_free import make_attention_free
from mmfreq.testing.reference import TextbookAAConv2d, swap_layer_types

DETECTION_STAGES = (False, False, True, True)
CLASSIFICATION_STAGES = (False, True, True, True)


def build_aa_resnet(stage_with_aa: Sequence[bool], variant: str) -> nn.Module:
    """AA-ResNet-50 with seeded weights and the attention of ``variant``:
    'mmfreq', 'official' (the paper's logits) or 'attention_free'."""
    torch.manual_seed(0)
    model = AAResNet(50, stage_with_aa=stage_with_aa)
    if variant == 'official':
        swap_layer_types(model, {AAConv2d: TextbookAAConv2d})
    elif variant == 'attention_free':
        make_attention_free(model)
    return model.eval()


def run_row(title: str, stage_with_aa: Sequence[bool], shape: Sequence[int], backward: bool,
            args: argparse.Namespace) -> dict:
    """Eager (and compiled) latency and memory of both formulations on one input."""
    builders: Dict[str, Builder] = {
        name: functools.partial(build_aa_resnet, stage_with_aa, name)
        for name in ('official', 'mmfreq')}
    if args.compile:
        torch._dynamo.reset()  # each row compiles for its own shape and mode
        builders.update({f'{name}_compiled': Compiled(build) for name, build in builders.items()})
    builders['attention_free'] = functools.partial(build_aa_resnet, stage_with_aa,
                                                   'attention_free')
    results = compare_models(builders, shape, 'official', args.iters, args.warmup, backward)
    print_comparison(title, results)
    row = dict(shape=list(shape), backward=backward, stage_with_aa=list(stage_with_aa),
               results=results)
    if args.compile:
        row['compiled_vs_eager'] = {
            name: round(results[f'{name}_compiled']['latency_ms'] / results[name]['latency_ms'], 3)
            for name in ('official', 'mmfreq')}
        print(f"  compiled / eager: {row['compiled_vs_eager']}")
    return row


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/aa_resnet.jsonl')
    parser.add_argument('--size', type=int, default=512, help='inference input size')
    parser.add_argument('--train-sizes', type=int, nargs='*', default=[512, 224])
    parser.add_argument('--batch', type=int, default=2, help='training-step batch')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--no-compile', dest='compile', action='store_false',
                        help='eager models only')
    args = parser.parse_args()
    record = start_record(args)

    with torch.no_grad():
        inputs = torch.randn(1, 3, args.size, args.size)
        record['max_abs_diff'] = (build_aa_resnet(DETECTION_STAGES, 'official')(inputs)[-1] -
                                  build_aa_resnet(DETECTION_STAGES, 'mmfreq')(inputs)[-1]
                                  ).abs().max().item()
    shape = (1, 3, args.size, args.size)
    record['rows'] = {f'forward_{args.size}_stages34': run_row(
        f'AA-ResNet-50 (stages 3-4) inference, {shape}, {args.threads} threads:',
        DETECTION_STAGES, shape, False, args)}
    for size in args.train_sizes:
        stages = DETECTION_STAGES if size > 224 else CLASSIFICATION_STAGES
        name = '34' if stages == DETECTION_STAGES else '234'
        shape = (args.batch, 3, size, size)
        record['rows'][f'train_{size}_batch{args.batch}_stages{name}'] = run_row(
            f'AA-ResNet-50 (stages {"-".join(name)}) training step, {shape}, '
            f'{args.threads} threads:', stages, shape, True, args)
    print(f"max |diff| of the last stage against the formula: {record['max_abs_diff']:.1e}")
    save_record(args, record)


if __name__ == '__main__':
    main()
