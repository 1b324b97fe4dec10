"""FDAM-ViT against the plain ViT and against the official FDAM formulation,
eager and compiled, forward and training step, in one run.

    python tools/analysis_tools/benchmark_fdam.py [--sizes 512] [--iters 3] [--arch base]
        [--modes forward train] [--no-compile]
        [--freq-scale-grids 32 64 96 128 [--freq-scale-channels 96]]

For each input size and mode (``forward``: no grad, eval; ``train``: forward
and backward in train mode): latency (median, interleaved rounds) and the peak
memory a pass adds (fresh process each) of the plain ViT, ViT + AttInv, ViT +
FreqScale, FDAM-ViT (both), FDAM-ViT computed as the official code does
(:class:`mmfreq.testing.reference.OfficialFDAMViT`: materialised softmax
attention, rfft2 on the transposed tokens, real and imaginary parts stacked)
and, unless ``--no-compile``, ``torch.compile`` (inductor) of the ViT and the
FDAM-ViT. Ratios are against the plain ViT; the lines printed after each table
give FDAM-ViT over the official formulation and compiled over eager.
``--freq-scale-grids`` also times one FreqScale (residual, batch 1, the
arch's channels or ``--freq-scale-channels``) on square grids of those sides
with each of its two transforms, DFT matrices and ``torch.fft``: where one
beats the other is what ``FreqScale.matrix_dft_max_side`` is set from. One
JSON line goes to --out.
"""
import functools
import os

import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    Compiled,
    benchmark_parser,
    compare_models,
    print_comparison,
    save_record,
    start_record,
)
from mmfreq.models import FDAMViT
from mmfreq.models.layers import FreqScale, add_freq_scale
from mmfreq.testing.reference import OfficialFDAMViT


def build(arch: str, att_inv: bool, freq_scale: bool, official: bool = False) -> nn.Module:
    """FDAMViT (or its official formulation) with the weights of seed 0."""
    torch.manual_seed(0)
    model = FDAMViT(arch, att_inv=att_inv, freq_scale=freq_scale)
    if official:
        reference = OfficialFDAMViT(arch, att_inv=att_inv, freq_scale=freq_scale)
        reference.load_state_dict(model.state_dict())
        model = reference
    return model


class ResidualFreqScale(nn.Module):
    """``x + FreqScale(x)`` on (B, H, W, C) maps, always with one transform."""

    def __init__(self, channels: int, transform: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.freq_scale = FreqScale(channels)
        # 0: torch.fft at every size; 2**31: DFT matrices at every size
        self.freq_scale.matrix_dft_max_side = dict(fft=0, dft_matrices=2**31)[transform]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return add_freq_scale(x, self.freq_scale)


def compare_freq_scale_transforms(channels: int, grids, iters: int, modes) -> dict:
    """Latency and peak memory of FreqScale with each transform, per grid and mode."""
    builders = {t: functools.partial(ResidualFreqScale, channels, t)
                for t in ('fft', 'dft_matrices')}
    record = dict(channels=channels)
    for side in grids:
        record[str(side)] = {}
        for mode in modes:
            results = compare_models(builders, (1, side, side, channels), 'fft', iters,
                                     backward=mode == 'train')
            print_comparison(f'FreqScale {mode}, 1x{side}x{side}x{channels}:', results)
            record[str(side)][mode] = results
    return record


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/fdam.jsonl')
    parser.add_argument('--arch', default='base')
    parser.add_argument('--sizes', type=int, nargs='*', default=[512],
                        help='input sides of the model comparison (none: skip it)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--modes', nargs='+', choices=['forward', 'train'],
                        default=['forward', 'train'])
    parser.add_argument('--no-compile', action='store_true',
                        help='leave out the torch.compile variants')
    parser.add_argument('--freq-scale-grids', type=int, nargs='*', default=[],
                        help='also time FreqScale alone with each transform on these grid sides')
    parser.add_argument('--freq-scale-channels', type=int,
                        help="channels of that FreqScale (default: the arch's)")
    args = parser.parse_args()

    builders = {
        'vit': functools.partial(build, args.arch, False, False),
        'vit+att_inv': functools.partial(build, args.arch, True, False),
        'vit+freq_scale': functools.partial(build, args.arch, False, True),
        'fdam_vit': functools.partial(build, args.arch, True, True),
        'fdam_vit_official': functools.partial(build, args.arch, True, True, True),
    }
    if not args.no_compile:
        builders['vit_compiled'] = Compiled(builders['vit'])
        builders['fdam_vit_compiled'] = Compiled(builders['fdam_vit'])
    # glibc malloc settings change how often freed activations are page-faulted
    # back in, a visible share of a CPU forward
    record = start_record(args, arch=args.arch, batch=args.batch,
                          glibc_tunables=os.environ.get('GLIBC_TUNABLES'))
    for size in args.sizes:
        shape = (args.batch, 3, size, size)
        with torch.no_grad():
            x = torch.randn(*shape)
            diff = max((a - b).abs().max().item() for a, b in zip(
                builders['fdam_vit']().eval()(x), builders['fdam_vit_official']().eval()(x)))
        record[str(size)] = dict(fdam_vs_official_max_abs_diff=diff)
        for mode in args.modes:
            results = compare_models(builders, shape, 'vit', args.iters,
                                     backward=mode == 'train')
            print_comparison(f'{args.arch} {mode}, {"x".join(map(str, shape))}, CPU '
                             f'({args.threads} threads), fast vs official max |diff| '
                             f'{diff:.1e}:', results)
            ratios = dict(fdam_vs_official=(
                results['fdam_vit']['latency_ms'] / results['fdam_vit_official']['latency_ms'],
                results['fdam_vit']['peak_mb'] / max(results['fdam_vit_official']['peak_mb'],
                                                     1e-9)))
            if not args.no_compile:
                for name in ('vit', 'fdam_vit'):
                    ratios[f'{name}_compiled_vs_eager'] = (
                        results[f'{name}_compiled']['latency_ms'] / results[name]['latency_ms'],
                        results[f'{name}_compiled']['peak_mb'] / max(results[name]['peak_mb'],
                                                                    1e-9))
                ratios['fdam_vit_compiled_vs_vit_compiled'] = (
                    results['fdam_vit_compiled']['latency_ms']
                    / results['vit_compiled']['latency_ms'],
                    results['fdam_vit_compiled']['peak_mb']
                    / max(results['vit_compiled']['peak_mb'], 1e-9))
            for name, (latency, memory) in ratios.items():
                print(f'  {name}: latency x{latency:.3f}, peak memory x{memory:.3f}')
            record[str(size)][mode] = dict(
                results=results, ratios={name: dict(latency=round(latency, 3),
                                                    memory=round(memory, 3))
                                         for name, (latency, memory) in ratios.items()})
    if args.freq_scale_grids:
        channels = args.freq_scale_channels or FDAMViT.arch_zoo[args.arch]['embed_dims']
        record['freq_scale_transforms'] = compare_freq_scale_transforms(
            channels, args.freq_scale_grids, args.iters, args.modes)
    save_record(args, record)


if __name__ == '__main__':
    main()
