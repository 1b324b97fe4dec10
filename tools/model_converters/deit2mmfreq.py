"""Convert a DeiT-III (timm / facebookresearch) or official FDAM checkpoint to
mmfreq's FDAM-ViT key names.

    python tools/model_converters/deit2mmfreq.py deit_3_base_224_21k.pth \
        pretrained/deit3_base_224_21k_mmfreq.pth --arch base --img-size 512

The position embedding is resized (bicubic) to the ``--img-size`` grid, a
class-token slot dropped, and the classifier (cls_token, norm, head) left out.
The result is loaded into ``FDAMViT(arch)`` first: FDAM parameters that a
DeiT-III file lacks are listed as new; any other missing or unexpected key
means another architecture and is an error. The output loads through
``init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import argparse
import sys

from mmfreq.models.backbones.fdam_vit import FDAMViT, convert_fdam_vit_state_dict
from mmfreq.utils.checkpoint import load_converted_weights, save_converted_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='DeiT-III or official FDAM checkpoint')
    parser.add_argument('dst', help='where to write the mmfreq checkpoint')
    parser.add_argument('--arch', default='base', help='FDAM-ViT arch: small, base, large')
    parser.add_argument('--img-size', type=int, default=224,
                        help='input size the position embedding is stored for')
    parser.add_argument('--patch-size', type=int, default=16)
    args = parser.parse_args()

    model = FDAMViT(args.arch, img_size=args.img_size, patch_size=args.patch_size)
    try:
        new = load_converted_weights(
            model, args.src, lambda s: convert_fdam_vit_state_dict(s, model.pretrain_grid),
            may_be_new=FDAMViT.fdam_keys, may_be_dropped=FDAMViT.classification_keys)
    except ValueError as err:  # wrong keys or shapes
        sys.exit(f'error: {err}')
    state = {k: v for k, v in model.state_dict().items() if k not in new}
    save_converted_checkpoint(state, args.src, args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}'
          + (f'; {len(new)} FDAM tensors were not in {args.src} and start fresh' if new else ''))


if __name__ == '__main__':
    main()
