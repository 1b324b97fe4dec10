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

from mmfreq.cli.convert import run_converter
from mmfreq.models.backbones.focal_transformer import FocalTransformer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--arch', default='tiny', help='tiny, small or base')
    parser.add_argument('--use-conv-embed', action='store_true',
                        help='the checkpoint is of a "useconv" model')


if __name__ == '__main__':
    run_converter(__doc__, 'official Focal Transformer checkpoint (path or URL)', add_arguments,
                  build=lambda args: FocalTransformer(args.arch,
                                                      use_conv_embed=args.use_conv_embed),
                  describe=lambda args: f'FocalTransformer arch {args.arch!r}')
