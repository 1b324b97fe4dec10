"""Per-layer frequency diagnostics of ViT-style backbones, models side by side.

    python tools/analysis_tools/frequency_analysis.py \
        --model ViT configs/fpn_vit_synthetic.py work_dirs/fpn_vit_synthetic/iter_600.pth \
        --model FDAM-ViT configs/fpn_fdam_vit_synthetic.py \
            work_dirs/fpn_fdam_vit_synthetic/iter_600.pth \
        --num-images 8 --out-dir docs/frequency_analysis

For the first ``--num-images`` images of each config's test set, the output
of every backbone layer (``backbone.layers``, token grids) is measured:
the share of spectral energy in the low / mid / high frequency band, the
effective rank of the token matrix and the mean pairwise |cosine| similarity
of its tokens (definitions in ``mmfreq/analysis/frequency.py``), averaged over
the images. Writes ``frequency_analysis.json`` and ``frequency_analysis.png``
to ``--out-dir``.
"""
import argparse
import json
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint

from mmfreq.analysis import layer_statistics
from mmfreq.analysis.frequency import BANDS
from mmfreq.apis import build_model_from_config
from mmfreq.datasets.preflight import check_dataset_paths

STATISTICS = (*BANDS, 'effective_rank', 'mean_abs_cosine')


def analyse(config: str, checkpoint: str, num_images: int) -> List[Dict[str, float]]:
    """Per-layer statistics, averaged over the images: one dict per layer."""
    cfg = Config.fromfile(config)
    check_dataset_paths(cfg, ['test_dataloader'])
    model = build_model_from_config(config)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    layers = getattr(model.backbone, 'layers', None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise ValueError(f'{config}: backbone {type(model.backbone).__name__} has no '
                         '`layers` of token blocks (e.g. mmfreq.FDAMViT); the diagnostics '
                         'read their (B, H*W, C) outputs')

    sums: Dict[int, Dict[str, float]] = defaultdict(lambda: dict.fromkeys(STATISTICS, 0.0))

    def record(index: int):
        def hook(module, args, output):
            tokens, (h, w) = output, args[1]
            for sample in tokens:
                stats = layer_statistics(sample.t().reshape(-1, h, w))
                for key, value in stats.items():
                    sums[index][key] += value
        return hook

    handles = [layer.register_forward_hook(record(i)) for i, layer in enumerate(layers)]
    cfg.test_dataloader.batch_size = 1
    loader = Runner.build_dataloader(cfg.test_dataloader)
    seen = 0
    with torch.no_grad():
        for batch in loader:
            if seen == num_images:
                break
            model.backbone(model.data_preprocessor(batch, False)['inputs'])
            seen += 1
    for handle in handles:
        handle.remove()
    return [{'layer': i, **{k: v / seen for k, v in sums[i].items()}} for i in sorted(sums)]


def plot(results: Dict[str, dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    panels = [('high', 'high-frequency energy share'), ('low', 'low-frequency energy share'),
              ('effective_rank', 'effective rank of tokens'),
              ('mean_abs_cosine', 'mean pairwise |cos| of tokens')]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4))
    for ax, (key, title) in zip(axes, panels):
        for name, result in results.items():
            layers = result['layers']
            ax.plot([r['layer'] + 1 for r in layers], [r[key] for r in layers],
                    marker='o', label=name)
        ax.set_title(title)
        ax.set_xlabel('layer')
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'))
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--out-dir', default='work_dirs/frequency_analysis')
    args = parser.parse_args()

    results = {}
    for name, config, checkpoint in args.model:
        layers = analyse(config, checkpoint, args.num_images)
        results[name] = dict(config=config, checkpoint=osp.basename(checkpoint),
                             num_images=args.num_images, layers=layers)
        last = layers[-1]
        print(f'{name}: last layer high-frequency share {last["high"]:.4f}, effective rank '
              f'{last["effective_rank"]:.1f}, mean |cos| {last["mean_abs_cosine"]:.3f}')
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'frequency_analysis.json'), 'w') as f:
        json.dump(results, f, indent=1)
    plot(results, osp.join(args.out_dir, 'frequency_analysis.png'))
    print(f'wrote {args.out_dir}/frequency_analysis.json and frequency_analysis.png')


if __name__ == '__main__':
    main()
