"""Convert an official Focal Transformer checkpoint to mmfreq's key names.

    python tools/model_converters/focal2mmfreq.py focal-tiny-is224.pth \
        pretrained/focal_tiny_mmfreq.pth --arch tiny [--use-conv-embed]

Index buffers are dropped (mmfreq rebuilds them for each input size), the
sub-window pooling moves into the attention, the final norm becomes the norm
of the last output and the classifier is left out. The result is loaded into
``FocalTransformer(arch)`` first: the output norms of stages 1-3 are listed as
new; any other missing or unexpected key (a checkpoint of another arch) is an
error naming the keys.
"""
import argparse
import sys

from mmfreq.models.backbones.focal_transformer import FocalTransformer, convert_focal_state_dict
from mmfreq.utils.checkpoint import load_converted_weights, save_converted_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official Focal Transformer checkpoint')
    parser.add_argument('dst', help='where to write the mmfreq checkpoint')
    parser.add_argument('--arch', default='tiny', help='tiny, small or base')
    parser.add_argument('--use-conv-embed', action='store_true',
                        help='the checkpoint is of a "useconv" model')
    args = parser.parse_args()

    model = FocalTransformer(args.arch, use_conv_embed=args.use_conv_embed)
    try:
        new = load_converted_weights(model, args.src, convert_focal_state_dict,
                                     may_be_new=('norm0.*', 'norm1.*', 'norm2.*'),
                                     may_be_dropped=('head.*',))
    except ValueError as err:  # wrong keys or shapes
        sys.exit(f'error: {err}')
    state = {k: v for k, v in model.state_dict().items() if k not in new}
    save_converted_checkpoint(state, args.src, args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}; new (fresh): {", ".join(new) or "none"}')


if __name__ == '__main__':
    main()
