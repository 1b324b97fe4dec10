"""Convert a released trained model (segmentor or detector) to mmfreq's key names, offline.

    python tools/model_converters/model2mmfreq.py upernet_van_b2_512x512_160k_ade20k.pth \
        checkpoints/upernet_van_b2_ade20k_mmfreq.pth \
        --config configs/upernet_van_b2_ade20k_released.py

``tools/test.py``, ``init_model`` and ``load_from`` read the released file
directly (official VAN-Segmentation and FDAM files, mmseg 0.x files: see
mmfreq/utils/weights.py); this tool does the same conversion ahead of
time. The file must fit the config's model exactly: one of another size,
head or class count is an error naming the keys, and nothing is written.
The class names and palette of an mmseg 0.x file are kept as mmengine's
``meta['dataset_meta']``.
"""
import argparse

from mmfreq.apis import build_model_from_config
from mmfreq.cli.convert import run_converter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', required=True,
                        help='the mmfreq config whose model the checkpoint is of')


if __name__ == '__main__':
    run_converter(
        __doc__, 'released trained model checkpoint (path or URL)', add_arguments,
        build=lambda args: build_model_from_config(args.config),
        describe=lambda args: f'the model of {args.config}')
