"""Convert an official Focal Transformer checkpoint to mmfreq's key names, offline.

    python tools/model_converters/focal2mmfreq.py focal-tiny-is224-ws7.pth \
        pretrained/focal_tiny_mmfreq.pth --arch tiny [--use-conv-embed]

Configs can name the released file (path or URL) directly in
``init_cfg=dict(type='Pretrained', checkpoint=...)``; this tool does the
same conversion ahead of time. Index buffers are dropped (mmfreq rebuilds
them for each input size), the sub-window pooling moves into the attention,
the final norm becomes the norm of the last output and the classifier is
left out. The output norms of stages 1-3 are listed as new; any other
missing or unexpected key (a checkpoint of another arch) is an error naming
the keys.
"""
import argparse
import sys

from mmfreq.models.backbones.focal_transformer import FocalTransformer
from mmfreq.utils.weights import convert_checkpoint_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official Focal Transformer checkpoint (path or URL)')
    parser.add_argument('dst', help='where to write the mmfreq checkpoint')
    parser.add_argument('--arch', default='tiny', help='tiny, small or base')
    parser.add_argument('--use-conv-embed', action='store_true',
                        help='the checkpoint is of a "useconv" model')
    args = parser.parse_args()

    try:
        model = FocalTransformer(args.arch, use_conv_embed=args.use_conv_embed)
    except ValueError as err:  # an unknown arch
        sys.exit(f'error: {err}')
    try:
        new = convert_checkpoint_file(model, model.weight_formats(), args.src, args.dst)
    except ValueError as err:  # keys or shapes of another arch, an unreadable file
        sys.exit(f'error: {args.src} does not fit FocalTransformer arch {args.arch!r}: {err}')
    except OSError as err:  # no such file, a failed download
        sys.exit(f'error: {err}')
    print(f'wrote {args.dst}; new (fresh): {", ".join(new) or "none"}')


if __name__ == '__main__':
    main()
