"""Focal-T with mmfreq's focal attention against the official formulation, in one run.

    python tools/analysis_tools/benchmark_focal.py [--sizes 512x512 800x1333] [--iters 3]

Both backbones have the same weights; the reference's attention is
``RolledFocalAttention`` (the ring from four rolled full-size copies of K and
V, pooled neighbourhoods by unfold, the attention matrix materialised), the
fast one gathers exactly the attended keys per chunk of windows and calls
``scaled_dot_product_attention``. For each size: latency (median of
interleaved rounds) and the peak memory a pass adds (fresh process each), for
forward and for forward + backward, with fast/reference ratios. Target: at
least 1.5x faster and at most 0.6x the peak memory at 800x1333 on CPU. One
JSON line goes to --out.
"""
import functools

import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    benchmark_parser,
    compare_models,
    print_comparison,
    save_record,
    start_record,
)
from mmfreq.models import FocalTransformer
from mmfreq.models.layers import FocalAttention
from mmfreq.testing.reference import RolledFocalAttention


def build(arch: str, reference: bool) -> nn.Module:
    torch.manual_seed(0)
    model = FocalTransformer(arch, drop_path_rate=0.0)
    model.init_weights()
    if reference:
        for module in model.modules():
            if type(module) is FocalAttention:
                module.__class__ = RolledFocalAttention  # same parameters, other forward
    return model.eval()


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/focal.jsonl')
    parser.add_argument('--arch', default='tiny')
    parser.add_argument('--sizes', nargs='+', default=['512x512', '800x1333'])
    args = parser.parse_args()
    record = start_record(args, arch=args.arch)

    builders = {'reference': functools.partial(build, args.arch, True),
                'fast': functools.partial(build, args.arch, False)}
    for size in args.sizes:
        h, w = (int(s) for s in size.split('x'))
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            diff = max((a - b).abs().max().item()
                       for a, b in zip(builders['fast']()(x), builders['reference']()(x)))
        record[size] = dict(max_abs_diff=diff)
        for backward in (False, True):
            mode = 'forward+backward' if backward else 'forward'
            results = compare_models(builders, (1, 3, h, w), 'reference', args.iters,
                                     backward=backward)
            print_comparison(f'Focal-{args.arch} {mode}, 1x3x{h}x{w}, CPU ({args.threads} '
                             f'threads), max |diff| {diff:.1e}:', results)
            record[size][mode] = results
    save_record(args, record)


if __name__ == '__main__':
    main()
