"""Parameters, FLOPs, forward latency and peak memory of a config's model.

    python tools/analysis_tools/benchmark.py configs/upernet_van_b.py --shape 512 512
    python tools/analysis_tools/benchmark.py configs/mask_rcnn_focal_t_1x.py \
        --shape 1280 800 --flops-only --out benchmarks/results/flops.jsonl

FLOPs count attention (``mmfreq/analysis/flops.py``: one multiply-add is one FLOP, as
mmengine, fvcore and mmdet's ``get_flops`` count); detectors are counted with
their heads on the RPN's proposals, as ``get_flops`` does. Latency and memory
are of the same forward ('tensor' mode: segmentors, classifiers and one-stage
detectors up to their head outputs, two-stage detectors with their RoI heads on
the proposals, which needs each image's size in its data sample). One JSON line
per run is appended to ``--out``.
"""
import functools
from typing import Sequence

import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    benchmark_parser,
    compare_latency,
    peak_memory_mb,
    save_record,
    start_record,
)
from mmfreq.analysis.flops import count_complexity, tracing_forward
from mmfreq.apis import build_model_from_config


def build_for_latency(config: str, shape: Sequence[int]) -> nn.Module:
    """The model of ``config``, called with a batch of ``shape`` images alone."""
    return tracing_forward(build_model_from_config(config), torch.empty(*shape))


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/benchmark.jsonl', iters=5)
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512], metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--flops-only', action='store_true',
                        help='parameters and FLOPs only, no latency or memory runs')
    args = parser.parse_args()
    shape = (args.batch, 3, *args.shape)
    record = start_record(args, args.device, config=args.config, shape=list(shape))

    model = build_model_from_config(args.config).to(args.device)
    inputs = torch.randn(*shape, device=args.device)
    with torch.no_grad():
        complexity = count_complexity(model, inputs[:1])
    record.update(params=complexity['params'], flops=complexity['flops'],
                  uncounted_ops=complexity['uncounted_ops'])
    print(f'{args.config} @ {shape} on {args.device} ({args.threads} threads)')
    print(f'  params  {record["params"] / 1e6:.2f} M')
    print(f'  FLOPs   {record["flops"] / 1e9:.2f} G (per image; not counted: '
          f'{", ".join(record["uncounted_ops"]) or "nothing"})')
    if not args.flops_only:
        model = tracing_forward(model, inputs)
        latency = compare_latency({'model': model}, inputs, args.iters, args.warmup)['model']
        build = functools.partial(build_for_latency, args.config, shape)
        memory = peak_memory_mb(build, shape, device=args.device)
        record.update(latency_ms=round(latency * 1e3, 2), peak_memory_mb=round(memory, 1))
        print(f'  latency {record["latency_ms"]:.1f} ms (median of {args.iters})')
        print(f'  peak    {record["peak_memory_mb"]:.0f} MiB above model and input')
    save_record(args, record)


if __name__ == '__main__':
    main()
