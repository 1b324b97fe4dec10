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
import sys

from mmfreq.models.backbones.van import VAN
from mmfreq.utils.weights import convert_checkpoint_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official or mmpretrain VAN checkpoint (path or URL)')
    parser.add_argument('dst', help='where to write the mmfreq checkpoint')
    parser.add_argument('--arch', required=True, help='VAN arch of the checkpoint (e.g. b2)')
    args = parser.parse_args()

    try:
        model = VAN(arch=args.arch)
    except ValueError as err:  # an unknown arch
        sys.exit(f'error: {err}')
    try:
        new = convert_checkpoint_file(model, model.weight_formats(), args.src, args.dst)
    except ValueError as err:  # keys or shapes of another arch, an unreadable file
        sys.exit(f'error: {args.src} does not fit VAN arch {args.arch!r}: {err}')
    except OSError as err:  # no such file, a failed download
        sys.exit(f'error: {err}')
    print(f'wrote {args.dst}; new (fresh): {", ".join(new) or "none"}')


if __name__ == '__main__':
    main()
