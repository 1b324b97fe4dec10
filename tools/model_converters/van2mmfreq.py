"""Convert an official or mmpretrain VAN checkpoint to mmfreq's key names, offline.

    python tools/model_converters/van2mmfreq.py van_base_828.pth.tar \
        pretrained/van_b2_mmfreq.pth --arch b2

Configs can name the released file (path or URL) directly in
``init_cfg=dict(type='Pretrained', checkpoint=...)``; this tool does the
same conversion ahead of time. The weights are loaded into ``VAN(arch)``
with the same strict checks (a checkpoint of another arch or size is an
error naming the keys) and written in mmfreq's names.
"""
import argparse

from mmfreq.cli.convert import run_converter
from mmfreq.models.backbones.van import VAN


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--arch', required=True, help='VAN arch of the checkpoint (e.g. b2)')


if __name__ == '__main__':
    run_converter(__doc__, 'official or mmpretrain VAN checkpoint (path or URL)', add_arguments,
                  build=lambda args: VAN(arch=args.arch),
                  describe=lambda args: f'VAN arch {args.arch!r}')
