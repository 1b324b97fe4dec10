"""FDAM-ViT-B against the plain ViT-B, and the fast AttInv against the
materialised one, in one run.

    python tools/analysis_tools/benchmark_fdam.py [--sizes 512 1024] [--iters 3] [--arch base]

For each input size: forward latency (median, interleaved rounds) and the
peak memory a forward pass adds (fresh process each) of the plain ViT, ViT +
AttInv, ViT + FreqScale, FDAM-ViT (both) and FDAM-ViT whose attention is the
textbook formula (softmax(QK^T / sqrt(d)) materialised as an N x N matrix,
then AttInv), with ratios against the plain ViT. One JSON line goes to --out.
"""
import functools
import os

import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    benchmark_parser,
    compare_models,
    print_comparison,
    save_record,
    start_record,
)
from mmfreq.models import FDAMViT
from mmfreq.testing.reference import MaterialisedAttInvAttention


def build(arch: str, att_inv: bool, freq_scale: bool, materialised: bool = False) -> nn.Module:
    torch.manual_seed(0)
    model = FDAMViT(arch, att_inv=att_inv, freq_scale=freq_scale)
    if materialised:
        for layer in model.layers:
            reference = MaterialisedAttInvAttention(model.embed_dims, layer.attn.num_heads)
            reference.load_state_dict(layer.attn.state_dict())
            layer.attn = reference
    return model.eval()


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/fdam.jsonl')
    parser.add_argument('--arch', default='base')
    parser.add_argument('--sizes', type=int, nargs='+', default=[512, 1024])
    args = parser.parse_args()

    builders = {
        'vit': functools.partial(build, args.arch, False, False),
        'vit+att_inv': functools.partial(build, args.arch, True, False),
        'vit+freq_scale': functools.partial(build, args.arch, False, True),
        'fdam_vit': functools.partial(build, args.arch, True, True),
        'fdam_vit_materialised': functools.partial(build, args.arch, True, True, True),
    }
    # glibc malloc settings change how often freed activations are page-faulted
    # back in, a visible share of a CPU forward
    record = start_record(args, arch=args.arch, glibc_tunables=os.environ.get('GLIBC_TUNABLES'))
    for size in args.sizes:
        with torch.no_grad():
            x = torch.randn(1, 3, size, size)
            diff = max((a - b).abs().max().item() for a, b in zip(
                builders['fdam_vit']()(x), builders['fdam_vit_materialised']()(x)))
        results = compare_models(builders, (1, 3, size, size), 'vit', args.iters)
        fast, slow = results['fdam_vit'], results['fdam_vit_materialised']
        print_comparison(f'{args.arch} forward, 1x3x{size}x{size}, CPU ({args.threads} threads), '
                         f'fast vs materialised max |diff| {diff:.1e}:', results)
        latency_ratio = fast['latency_ms'] / slow['latency_ms']
        memory_ratio = fast['peak_mb'] / max(slow['peak_mb'], 1e-9)
        print(f'  fast / materialised AttInv: latency x{latency_ratio:.2f}, '
              f'peak memory x{memory_ratio:.2f}')
        record[str(size)] = dict(results=results, fast_vs_materialised_max_abs_diff=diff)
    save_record(args, record)


if __name__ == '__main__':
    main()
