"""mmfreq's VAN against mmpretrain's VAN in one process, same weights.

    python tools/analysis_tools/benchmark_van.py [--arch b2] [--size 512] [--iters 5]

Times the mmfreq backbone as trained, the same backbone after
``switch_to_deploy()`` (BatchNorm and layer scale folded into the convs), and
mmpretrain's VAN with the identical weights (mmfreq's is converted from it;
mmpretrain's stage norms get the official LayerNorm eps 1e-6 that mmfreq's
have), then prints the latency ratios against mmpretrain and the largest output
difference of each. One JSON line is appended to ``--out``.
"""
import copy

import torch

from mmfreq.analysis.benchmarking import (
    benchmark_parser,
    compare_latency,
    save_record,
    start_record,
)
from mmfreq.models.backbones import VAN, convert_van_state_dict

MMPRETRAIN_ARCH = {'b0': 'tiny', 'b1': 'small', 'b2': 'base', 'b3': 'large'}


def main() -> None:
    parser = benchmark_parser(__doc__, 'benchmarks/results/van_speed.jsonl', iters=5)
    parser.add_argument('--arch', default='b2', choices=sorted(MMPRETRAIN_ARCH))
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()
    record = start_record(args, args.device, arch=args.arch, size=args.size)

    from mmpretrain.models.backbones import VAN as MMPretrainVAN
    reference = MMPretrainVAN(arch=MMPRETRAIN_ARCH[args.arch], out_indices=(0, 1, 2, 3))
    reference.init_weights()
    for module in reference.modules():  # the official stage-norm eps, as mmfreq's
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = 1e-6
    ours = VAN(arch=args.arch)
    ours.load_state_dict(convert_van_state_dict(reference.state_dict()), strict=True)
    fused = copy.deepcopy(ours)
    fused.switch_to_deploy()
    modules = {'mmpretrain': reference, 'mmfreq': ours, 'mmfreq_deploy': fused}
    for module in modules.values():
        module.to(args.device).eval()

    inputs = torch.randn(1, 3, args.size, args.size, device=args.device)
    with torch.no_grad():
        expected = reference(inputs)
        max_diff = {name: max((a - b).abs().max().item()
                              for a, b in zip(module(inputs), expected))
                    for name, module in modules.items() if name != 'mmpretrain'}
    latency = compare_latency(modules, inputs, args.iters, args.warmup)
    record.update(
        latency_ms={k: round(v * 1e3, 1) for k, v in latency.items()},
        ratio_vs_mmpretrain={k: round(latency[k] / latency['mmpretrain'], 3)
                             for k in ('mmfreq', 'mmfreq_deploy')},
        max_abs_diff=max_diff)
    print(f'VAN-{args.arch} backbone, 1x3x{args.size}x{args.size}, {args.device} '
          f'({args.threads} threads), median of {args.iters}:')
    for name, seconds in latency.items():
        ratio = seconds / latency['mmpretrain']
        diff = f', max |diff| {max_diff[name]:.2e}' if name in max_diff else ''
        print(f'  {name:<14} {seconds * 1e3:8.1f} ms  ratio {ratio:.3f}{diff}')
    save_record(args, record)


if __name__ == '__main__':
    main()
