"""Convert an official (or mmpretrain) VAN checkpoint to mmfreq's key names.

    python tools/model_converters/van2mmfreq.py van_b2.pth pretrained/van_b2_mmfreq.pth --arch b2

The output loads into ``dict(type='mmfreq.VAN', arch=...)`` through
``init_cfg=dict(type='Pretrained', checkpoint=...)``. With ``--arch`` the
converted weights are loaded into that arch first, and any missing or
unexpected key is an error, so a checkpoint of another arch is caught here.
"""
import argparse
import sys

from mmfreq.models.backbones.van import VAN, convert_van_state_dict
from mmfreq.utils import load_from_local_safely
from mmfreq.utils.checkpoint import save_converted_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official or mmpretrain VAN checkpoint')
    parser.add_argument('dst', help='where to write the mmfreq checkpoint')
    parser.add_argument('--arch', help='check the result against this VAN arch (e.g. b2)')
    args = parser.parse_args()

    checkpoint = load_from_local_safely(args.src, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint.get('model', checkpoint))
    try:
        converted = convert_van_state_dict(state_dict)
    except KeyError as err:
        sys.exit(f'error: {args.src}: {err.args[0]}')
    if args.arch:
        try:
            result = VAN(arch=args.arch).load_state_dict(converted, strict=False)
        except RuntimeError as err:  # shape mismatches
            sys.exit(f'error: {args.src} does not fit VAN arch {args.arch!r}: {err}')
        if result.missing_keys or result.unexpected_keys:
            sys.exit(f'error: {args.src} does not fit VAN arch {args.arch!r}: '
                     f'missing keys {result.missing_keys}, '
                     f'unexpected keys {result.unexpected_keys}')
    save_converted_checkpoint(converted, args.src, args.dst)
    print(f'wrote {len(converted)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
