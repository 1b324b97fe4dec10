"""AA-ResNet-50 against ResNet-50 (mmpretrain), and AAConv2d's relative logits
against the textbook formula, in one run.

    python tools/analysis_tools/benchmark_aa_resnet.py [--sizes 512x512 800x1333] [--iters 3]

Backbone: forward latency (median, interleaved rounds) and the peak memory a
forward pass adds (fresh process per measurement) for each size, with the
AA/plain ratios, for AA-ResNet-50 as in the paper (stages 2-4 augmented) and
as in the detection configs (stages 3-4). Layer: the AAConv2d of a stage-3
bottleneck (256 channels) on the stage-3 grid of each size, fast
(relative-to-absolute logits folded into augmented queries and keys, so no
HW x HW tensor exists) against a reference that builds the (HW, HW, d)
offset-embedding tensor of the formula; the fast path's memory per query row
is d + W + H, the reference's HW * d. One JSON line per run goes to --out.
"""
import functools
import math

import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    benchmark_parser,
    compare_models,
    print_comparison,
    save_record,
    start_record,
)
from mmfreq.models import AAResNet
from mmfreq.models.layers import AAConv2d
from mmfreq.testing.reference import TextbookAAConv2d


def build_backbone(stages) -> nn.Module:
    return AAResNet(50, stage_with_aa=stages).eval()


def build_layer(textbook: bool) -> nn.Module:
    torch.manual_seed(0)
    # the 3x3 conv of a stage-3 bottleneck: d_k = 48, d_v = 24 (AAResNet's rounding)
    return (TextbookAAConv2d if textbook else AAConv2d)(
        256, 256, key_ratio=48 / 256, value_ratio=24 / 256).eval()


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/aa_resnet.jsonl')
    parser.add_argument('--sizes', nargs='+', default=['512x512', '800x1333'])
    args = parser.parse_args()
    record = start_record(args)
    for size in args.sizes:
        h, w = (int(s) for s in size.split('x'))
        backbones = {
            'resnet50': functools.partial(build_backbone, (False,) * 4),
            'aa_resnet50': functools.partial(build_backbone, (False, True, True, True)),
            'aa_resnet50_stages34': functools.partial(build_backbone, (False, False, True, True)),
        }
        results = compare_models(backbones, (1, 3, h, w), 'resnet50', args.iters)
        print_comparison(f'backbone forward, 1x3x{h}x{w}, CPU ({args.threads} threads):',
                         results)
        grid = (math.ceil(h / 16), math.ceil(w / 16))
        layers = {'textbook_logits': functools.partial(build_layer, True),
                  'fast_logits': functools.partial(build_layer, False)}
        with torch.no_grad():
            x = torch.randn(1, 256, *grid)
            diff = (build_layer(True)(x) - build_layer(False)(x)).abs().max().item()
        layer_results = compare_models(layers, (1, 256, *grid), 'textbook_logits', args.iters)
        print_comparison(f'stage-3 AAConv2d forward on the stage-3 grid {grid[0]}x{grid[1]} '
                         f'(max |diff| {diff:.1e}):', layer_results)
        record[size] = dict(backbone=results, stage3_layer=layer_results,
                            layer_max_abs_diff=diff)
    save_record(args, record)


if __name__ == '__main__':
    main()
