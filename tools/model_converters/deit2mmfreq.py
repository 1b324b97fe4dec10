"""Convert a DeiT-III (official or timm) or official FDAM checkpoint to mmfreq's
FDAM-DeiT3 key names, offline.

    python tools/model_converters/deit2mmfreq.py deit_3_base_224_21k.pth \
        pretrained/deit3_base_224_21k_mmfreq.pth --arch base --img-size 512

Configs can name the released file (path or URL) directly in
``init_cfg=dict(type='Pretrained', checkpoint=...)``; this tool does the
same conversion ahead of time. The position embedding is resized (bicubic)
to the ``--img-size`` grid, a class-token slot dropped, and the classifier
(cls_token, norm, head) left out. FDAM parameters that a DeiT-III file lacks
are listed as new; any other missing or unexpected key means another
architecture and is an error.
"""
import argparse

from mmfreq.cli.convert import run_converter
from mmfreq.models.backbones.fdam_deit3 import FDAMDeiT3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--arch', default='base', help='FDAM-DeiT3 arch: small, base, large')
    parser.add_argument('--img-size', type=int, default=224,
                        help='input size the position embedding is stored for')
    parser.add_argument('--patch-size', type=int, default=16)


if __name__ == '__main__':
    run_converter(
        __doc__, 'DeiT-III or official FDAM checkpoint (path or URL)', add_arguments,
        build=lambda args: FDAMDeiT3(args.arch, img_size=args.img_size, patch_size=args.patch_size),
        describe=lambda args: f'FDAMDeiT3 arch {args.arch!r}')
