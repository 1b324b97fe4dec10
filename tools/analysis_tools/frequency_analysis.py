"""Per-layer frequency diagnostics of ViT-style backbones, models side by side.

    python tools/analysis_tools/frequency_analysis.py \
        --model ViT configs/fpn_vit_synthetic.py work_dirs/fpn_vit_synthetic/iter_600.pth \
        --model FDAM-DeiT3 configs/fpn_fdam_vit_synthetic.py \
            work_dirs/fpn_fdam_vit_synthetic/iter_600.pth \
        --num-images 8 --out-dir docs/frequency_analysis

For the first ``--num-images`` images of each config's test set, the output
of every token block of the backbone is measured on its token grid (FDAM-DeiT3
and mmseg-ViT blocks: one grid, the class token left out; Mix Transformer
blocks: the grid of their stage): the share of spectral energy in the low /
mid / high frequency band, the effective rank of the token matrix and the mean
pairwise |cosine| similarity of its tokens (definitions in
``mmfreq/analysis/frequency.py``), averaged over the images. Writes
``frequency_analysis.json`` (per layer also its module ``name`` and mean grid
size ``tokens``) and ``frequency_analysis.png`` to ``--out-dir``; in the
figure, dotted lines mark where the grid size changes (a new stage).
"""
import argparse
import json
import os
import os.path as osp
from itertools import islice
from typing import Dict, List

from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmfreq.analysis.frequency import block_statistics, token_blocks
from mmfreq.apis import build_dataloader_from_config, build_model_from_config
from mmfreq.cli.errors import add_debug_argument, debugging, exit_on_error
from mmfreq.datasets.preflight import check_dataset_paths


def analyse(config: str, checkpoint: str, num_images: int) -> List[Dict[str, object]]:
    """Per-layer statistics, averaged over the images: one dict per token block."""
    model = build_model_from_config(config)
    try:
        token_blocks(model.backbone)
    except ValueError as err:
        raise ValueError(f'{config}: {err}') from None
    cfg = Config.fromfile(config)
    check_dataset_paths(cfg, ['test_dataloader'])
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    loader = build_dataloader_from_config(cfg, 'test_dataloader', batch_size=1)
    images = (model.data_preprocessor(batch, False)['inputs']
              for batch in islice(loader, num_images))
    return block_statistics(model.backbone, images)


def plot(results: Dict[str, dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    panels = [('high', 'high-frequency energy share'), ('low', 'low-frequency energy share'),
              ('effective_rank', 'effective rank of tokens'),
              ('mean_abs_cosine', 'mean pairwise |cos| of tokens')]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4))
    first = next(iter(results.values()))['layers']
    # a new stage where the grid changes (files written before 'tokens' have one grid)
    stage_starts = [r['layer'] + 0.5 for previous, r in zip(first, first[1:])
                    if 'tokens' in r and abs(r['tokens'] - previous['tokens']) > 0.5]
    for ax, (key, title) in zip(axes, panels):
        for name, result in results.items():
            layers = result['layers']
            ax.plot([r['layer'] + 1 for r in layers], [r[key] for r in layers],
                    marker='o', label=name)
        for x in stage_starts:
            ax.axvline(x, color='grey', linestyle=':', linewidth=1)
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
    add_debug_argument(parser)
    args = parser.parse_args()

    results = {}
    for name, config, checkpoint in args.model:
        with exit_on_error(ValueError, FileNotFoundError, debug=debugging(args)):
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
