"""FDAM-ViT-B against the plain ViT-B, and the fast AttInv against the
materialised one, in one run.

    python tools/analysis_tools/benchmark_fdam.py [--sizes 512 1024] [--iters 3] [--arch base]

For each input size: forward latency (median, interleaved rounds) and the
peak memory a forward pass adds (fresh process each) of the plain ViT, ViT +
AttInv, ViT + FreqScale, FDAM-ViT (both) and FDAM-ViT whose attention is the
textbook formula (softmax(QK^T / sqrt(d)) materialised as an N x N matrix,
then AttInv), with ratios against the plain ViT. One JSON line goes to --out.
"""
import argparse
import functools
import os
import platform
import time

import torch
import torch.nn as nn

from benchmark_harness import append_result, compare_models, print_comparison
from mmfreq.testing.reference import MaterialisedAttInvAttention
from mmfreq.models import FDAMViT


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='base')
    parser.add_argument('--sizes', type=int, nargs='+', default=[512, 1024])
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--out', default='benchmarks/results/fdam.jsonl')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    builders = {
        'vit': functools.partial(build, args.arch, False, False),
        'vit+att_inv': functools.partial(build, args.arch, True, False),
        'vit+freq_scale': functools.partial(build, args.arch, False, True),
        'fdam_vit': functools.partial(build, args.arch, True, True),
        'fdam_vit_materialised': functools.partial(build, args.arch, True, True, True),
    }
    record = dict(arch=args.arch, device=platform.processor() or platform.machine(),
                  threads=args.threads, torch=torch.__version__,
                  time=time.strftime('%Y-%m-%dT%H:%M:%S'),
                  # glibc malloc settings change how often freed activations are
                  # page-faulted back in, a visible share of a CPU forward
                  glibc_tunables=os.environ.get('GLIBC_TUNABLES'))
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
    append_result(args.out, record)
    print(f'appended to {args.out}')


if __name__ == '__main__':
    main()
