"""mmfreq's VAN against the official VAN network: inference and training step, eager and compiled.

    python tools/analysis_tools/benchmark_van.py [--arch b2] [--size 512] \\
        [--train-sizes 512 224] [--batch 2] [--iters 3] [--no-compile]

The reference is the official VAN's network as mmpretrain's ``VAN`` builds it
(the official parameter count and function; its stage LayerNorms get the
official eps 1e-6, as mmfreq's have); mmfreq's backbone gets the same weights,
converted. Both use drop path 0.1, as ``configs/upernet_van_b.py``.

Rows: inference (no grad, eval mode, 1 x 3 x size x size), with mmfreq also
after ``switch_to_deploy()``; training step (forward + backward, train mode,
batch x 3 x s x s for each of ``--train-sizes``). In each row every model is
timed interleaved in one process, eager and compiled (``torch.compile``,
inductor), and the peak memory of its pass is measured in a fresh process.
The ``attention_free`` model (mmfreq's VAN with the large-kernel attention
replaced by the identity) bounds the ratio any LKA implementation could
reach. The
line appended to ``--out`` holds each row's latencies, memories, the ratios
against the reference, compiled against eager, and the largest output
difference of each model at inference.
"""
import argparse
import functools
from typing import Dict

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
from mmfreq.models.backbones import VAN, convert_van_state_dict
from mmfreq.testing.attention_free import make_attention_free

MMPRETRAIN_ARCH = {'b0': 'tiny', 'b1': 'small', 'b2': 'base', 'b3': 'large'}
DROP_PATH_RATE = 0.1


def build_reference(arch: str) -> nn.Module:
    """mmpretrain's VAN with the official stage-norm eps, seeded (PyTorch-default) weights."""
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    torch.manual_seed(0)
    model = MMPretrainVAN(arch=MMPRETRAIN_ARCH[arch], out_indices=(0, 1, 2, 3),
                          drop_path_rate=DROP_PATH_RATE)
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            module.eps = 1e-6
    model.eval()  # (mmpretrain's train() returns None)
    return model


def build_mmfreq(arch: str, deploy: bool = False, attention_free: bool = False) -> nn.Module:
    """mmfreq's VAN with the weights of :func:`build_reference`; ``attention_free``:
    its large-kernel attention replaced by the identity."""
    model = VAN(arch=arch, drop_path_rate=DROP_PATH_RATE)
    model.load_state_dict(convert_van_state_dict(build_reference(arch).state_dict()))
    if deploy:
        model.switch_to_deploy()
    if attention_free:
        make_attention_free(model)
    return model.eval()


def largest_differences(builders: Dict[str, Builder], size: int) -> Dict[str, float]:
    """Largest |output - reference output| of each eager model at inference."""
    inputs = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected = builders['official']()(inputs)
        return {name: max((a - b).abs().max().item()
                          for a, b in zip(build()(inputs), expected))
                for name, build in builders.items() if name != 'official'}


def run_row(title: str, builders: Dict[str, Builder], shape, backward: bool,
            args: argparse.Namespace) -> dict:
    """Eager (and compiled) latency and memory of ``builders`` on one input."""
    if args.compile:
        torch._dynamo.reset()  # each row compiles for its own shape and mode
        builders = {**builders, **{f'{name}_compiled': Compiled(build)
                                   for name, build in builders.items()
                                   if not name.endswith('deploy')}}
    builders = {**builders, 'attention_free': functools.partial(build_mmfreq, args.arch,
                                                                attention_free=True)}
    results = compare_models(builders, shape, 'official', args.iters, args.warmup, backward)
    print_comparison(title, results)
    row = dict(shape=list(shape), backward=backward, results=results)
    if args.compile:
        row['compiled_vs_eager'] = {
            name: round(results[f'{name}_compiled']['latency_ms'] / results[name]['latency_ms'], 3)
            for name in ('official', 'mmfreq')}
        row['mmfreq_compiled_vs_official_compiled'] = round(
            results['mmfreq_compiled']['latency_ms'] / results['official_compiled']['latency_ms'],
            3)
        print(f"  compiled / eager: {row['compiled_vs_eager']}")
    return row


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/van_speed.jsonl')
    parser.add_argument('--arch', default='b2', choices=sorted(MMPRETRAIN_ARCH))
    parser.add_argument('--size', type=int, default=512, help='inference input size')
    parser.add_argument('--train-sizes', type=int, nargs='*', default=[512, 224])
    parser.add_argument('--batch', type=int, default=2, help='training-step batch')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--no-compile', dest='compile', action='store_false',
                        help='eager models only')
    args = parser.parse_args()
    record = start_record(args, arch=args.arch)

    official = functools.partial(build_reference, args.arch)
    ours = functools.partial(build_mmfreq, args.arch)
    deploy = functools.partial(build_mmfreq, args.arch, deploy=True)
    inference = {'official': official, 'mmfreq': ours, 'mmfreq_deploy': deploy}
    record['max_abs_diff'] = largest_differences(inference, args.size)
    record['rows'] = {}
    shape = (1, 3, args.size, args.size)
    record['rows'][f'forward_{args.size}'] = run_row(
        f'VAN-{args.arch} inference, {shape}, {args.threads} threads:', inference, shape, False,
        args)
    for size in args.train_sizes:
        shape = (args.batch, 3, size, size)
        record['rows'][f'train_{size}_batch{args.batch}'] = run_row(
            f'VAN-{args.arch} training step, {shape}, {args.threads} threads:',
            {'official': official, 'mmfreq': ours}, shape, True, args)
    print(f"max |diff| against the official network: {record['max_abs_diff']}")
    save_record(args, record)


if __name__ == '__main__':
    main()
