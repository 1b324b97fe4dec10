"""Latency of a backbone exported to ONNX, in onnxruntime against PyTorch eager.

    python tools/analysis_tools/benchmark_onnx.py [--config configs/upernet_van_b.py]
        [--size 512] [--iters 5] [--threads 2]

Exports the config's backbone (VAN-B2 with the default config) as
``tools/deployment/pytorch2onnx.py --backbone-only`` does, runs the file in
onnxruntime's CPU provider and the same module in PyTorch (no grad), both on
``--threads`` threads, timed in interleaved rounds (median), and prints both
latencies, their ratio and the largest output difference. One JSON line,
with the command, is appended to ``--out``.
"""
import os.path as osp
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import (
    benchmark_parser,
    compare_latency,
    save_record,
    start_record,
)
from mmfreq.deployment import build_exportable, export_onnx


class OnnxRuntimeModule(nn.Module):
    """An onnxruntime session called like a module, so that it is timed like one."""

    def __init__(self, path: str, threads: int) -> None:
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(path, options,
                                                    providers=['CPUExecutionProvider'])

    def forward(self, image: torch.Tensor) -> list:
        return self.session.run(None, {'image': image.numpy()})


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/onnx.jsonl', iters=5)
    parser.add_argument('--config', default='configs/upernet_van_b.py')
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--warmup', type=int, default=1)
    args = parser.parse_args()
    record = start_record(args, 'cpu', config=args.config, size=args.size,
                          command=' '.join(['python', *sys.argv]))

    import onnxruntime
    module, _ = build_exportable(args.config, None, backbone_only=True)
    shape = (args.size, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'backbone.onnx')
        export_onnx(module, shape, path, dynamic=False, opset=17)
        runtime = OnnxRuntimeModule(path, args.threads)
        inputs = torch.rand(1, 3, *shape) * 255
        with torch.no_grad():
            diff = max(float(np.abs(a.numpy() - b).max())
                       for a, b in zip(module(inputs), runtime(inputs)))
        latency = compare_latency({'pytorch': module, 'onnxruntime': runtime}, inputs,
                                  args.iters, args.warmup)
    backbone = type(module.model.backbone).__name__
    record.update(backbone=backbone, onnxruntime=onnxruntime.__version__,
                  latency_ms={k: round(v * 1e3, 1) for k, v in latency.items()},
                  ratio_onnxruntime_vs_pytorch=round(latency['onnxruntime'] /
                                                     latency['pytorch'], 3),
                  max_abs_diff=diff)
    print(f'{backbone} backbone of {args.config}, 1x3x{args.size}x{args.size}, CPU '
          f'({args.threads} threads), median of {args.iters}:')
    for name, seconds in latency.items():
        print(f'  {name:<12} {seconds * 1e3:8.1f} ms')
    print(f'  onnxruntime / pytorch: {record["ratio_onnxruntime_vs_pytorch"]:.3f}, '
          f'max |diff| {diff:.2e}')
    save_record(args, record)


if __name__ == '__main__':
    main()
