"""Parameters, FLOPs, forward latency and peak memory of a config's model.

    python tools/analysis_tools/benchmark.py configs/upernet_van_b.py --shape 512 512

FLOPs come from mmengine's analyzer (one multiply-add counted as one FLOP, as
mmengine and fvcore count). One JSON line per run is appended to ``--out``.
"""
import argparse
import functools
import platform
import time

import torch
from mmengine.analysis import get_model_complexity_info

from mmfreq.analysis import append_result, compare_latency, peak_memory_mb
from mmfreq.apis import build_model_from_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512], metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='CPU threads (default: all)')
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--out', default='benchmarks/results/benchmark.jsonl')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    build = functools.partial(build_model_from_config, args.config)
    model = build().to(args.device)
    shape = (args.batch, 3, *args.shape)
    inputs = torch.randn(*shape, device=args.device)
    complexity = get_model_complexity_info(model, inputs=(inputs[:1], ), show_table=False,
                                           show_arch=False)
    latency = compare_latency({'model': model}, inputs, args.iters, args.warmup)['model']
    peak = peak_memory_mb(build, shape, device=args.device)
    record = dict(
        config=args.config, shape=list(shape), device=args.device,
        device_name=(torch.cuda.get_device_name() if args.device.startswith('cuda')
                     else platform.processor() or platform.machine()),
        threads=args.threads, torch=torch.__version__, params=complexity['params'],
        flops=complexity['flops'], latency_ms=round(latency * 1e3, 2),
        peak_memory_mb=round(peak, 1), time=time.strftime('%Y-%m-%dT%H:%M:%S'))
    print(f'{args.config} @ {shape} on {args.device} ({args.threads} threads)')
    print(f'  params  {record["params"] / 1e6:.2f} M')
    print(f'  FLOPs   {record["flops"] / 1e9:.2f} G (per image)')
    print(f'  latency {record["latency_ms"]:.1f} ms (median of {args.iters})')
    print(f'  peak    {record["peak_memory_mb"]:.0f} MiB above model and input')
    append_result(args.out, record)
    print(f'appended to {args.out}')


if __name__ == '__main__':
    main()
