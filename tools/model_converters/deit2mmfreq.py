"""Convert a DeiT-III (official or timm) or official FDAM checkpoint to mmfreq's
FDAM-ViT key names, offline.

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
import sys

from mmfreq.models.backbones.fdam_vit import FDAMViT
from mmfreq.utils.weights import convert_checkpoint_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='DeiT-III or official FDAM checkpoint (path or URL)')
    parser.add_argument('dst', help='where to write the mmfreq checkpoint')
    parser.add_argument('--arch', default='base', help='FDAM-ViT arch: small, base, large')
    parser.add_argument('--img-size', type=int, default=224,
                        help='input size the position embedding is stored for')
    parser.add_argument('--patch-size', type=int, default=16)
    args = parser.parse_args()

    try:
        model = FDAMViT(args.arch, img_size=args.img_size, patch_size=args.patch_size)
    except ValueError as err:  # an unknown arch
        sys.exit(f'error: {err}')
    try:
        new = convert_checkpoint_file(model, model.weight_formats(), args.src, args.dst)
    except ValueError as err:  # keys or shapes of another arch, an unreadable file
        sys.exit(f'error: {args.src} does not fit FDAMViT arch {args.arch!r}: {err}')
    except OSError as err:  # no such file, a failed download
        sys.exit(f'error: {err}')
    print(f'wrote {args.dst}'
          + (f'; {len(new)} FDAM tensors were not in {args.src} and start fresh' if new else ''))


if __name__ == '__main__':
    main()
