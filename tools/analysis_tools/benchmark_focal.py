"""Focal Transformer with mmfreq's focal attention against the official formulation.

    python tools/analysis_tools/benchmark_focal.py [--sizes 224x224 512x512 800x1333]
        [--batch 2] [--compile-sizes 224x224] [--iters 3]

Both backbones have the same weights; the reference's attention is
``RolledFocalAttention`` (the official formulation: the ring from four rolled
full-size copies of K and V, pooled neighbourhoods by unfold, the attention
matrix materialised). For each size: inference (batch 1, no grad) and the
training step (forward + backward, batch ``--batch``), latency (median of
interleaved rounds) and the peak memory a pass adds (fresh process each),
with ratios against the eager reference. For ``--compile-sizes`` the same
for both models under ``torch.compile`` (inductor), and mmfreq's
compiled / eager ratio. The ``attention_free`` model (its focal attention
reduced to the qkv and output projections) bounds the ratio any attention
implementation could reach. Sizes above 224x224 use the dense configs' ring at
every stage (``expand_sizes=(3, 3, 3, 3)``). One JSON line goes to --out.
"""
import functools
from typing import Sequence, Tuple

import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    benchmark_parser,
    compare_models,
    print_comparison,
    run_once,
    save_record,
    start_record,
)
from mmfreq.models import FocalTransformer
from mmfreq.models.layers import FocalAttention
from mmfreq.testing.attention_free import make_attention_free
from mmfreq.testing.reference import RolledFocalAttention, swap_layer_types

CLASSIFICATION_EXPAND_SIZES = (3, 3, 3, 0)  # the official ImageNet models at 224
DENSE_EXPAND_SIZES = (3, 3, 3, 3)  # configs/*focal_t*.py


def build(arch: str, expand_sizes: Tuple[int, ...], variant: str,
          compile_for: Sequence[int] = (), backward: bool = False) -> nn.Module:
    """Focal backbone with seed-0 weights and the attention of ``variant``:
    'mmfreq', 'reference' (the official formulation) or 'attention_free'.

    With ``compile_for`` (an input shape) the model is compiled and run once
    on it, so that compiling is neither timed nor counted as the pass's memory.
    """
    torch.manual_seed(0)
    model = FocalTransformer(arch, expand_sizes=expand_sizes, drop_path_rate=0.0)
    model.init_weights()
    if variant == 'reference':
        swap_layer_types(model, {FocalAttention: RolledFocalAttention})
    elif variant == 'attention_free':
        make_attention_free(model)
    model.eval()
    if compile_for:
        model = torch.compile(model)
        model.train(backward)
        run_once(model, torch.randn(*compile_for), backward)
    return model


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/focal.jsonl')
    parser.add_argument('--arch', default='tiny')
    parser.add_argument('--sizes', nargs='+', default=['224x224', '512x512', '800x1333'])
    parser.add_argument('--batch', type=int, default=2, help='training-step batch')
    parser.add_argument('--compile-sizes', nargs='*', default=['224x224'])
    args = parser.parse_args()
    record = start_record(args, arch=args.arch, train_batch=args.batch)

    for size in args.sizes:
        h, w = (int(s) for s in size.split('x'))
        expand = CLASSIFICATION_EXPAND_SIZES if max(h, w) <= 224 else DENSE_EXPAND_SIZES
        eager = {name: functools.partial(build, args.arch, expand, name)
                 for name in ('reference', 'mmfreq')}
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            diff = max((a - b).abs().max().item()
                       for a, b in zip(eager['mmfreq']()(x), eager['reference']()(x)))
        record[size] = dict(expand_sizes=expand, max_abs_diff=diff)
        for backward in (False, True):
            mode = 'training_step' if backward else 'inference'
            shape = (args.batch if backward else 1, 3, h, w)
            builders = dict(eager, attention_free=functools.partial(
                build, args.arch, expand, 'attention_free'))
            if size in args.compile_sizes:
                for name in eager:
                    builders[f'{name}_compiled'] = functools.partial(
                        build, args.arch, expand, name, shape, backward)
            results = compare_models(builders, shape, 'reference', args.iters,
                                     backward=backward)
            if size in args.compile_sizes:
                results['mmfreq_compiled']['compiled_vs_eager'] = round(
                    results['mmfreq_compiled']['latency_ms'] / results['mmfreq']['latency_ms'],
                    3)
            print_comparison(f'Focal-{args.arch} {mode}, {"x".join(map(str, shape))}, CPU '
                             f'({args.threads} threads), max |diff| {diff:.1e}:', results)
            record[size][mode] = results
    save_record(args, record)


if __name__ == '__main__':
    main()
