"""Export a segmentor's logits, a classifier's scores or a backbone's feature
maps to ONNX, then check the file with onnxruntime against PyTorch.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] --shape H W \\
        --out model.onnx [--dynamic] [--backbone-only] [--opset 17] [--debug]

The graph's input ``image`` is a float32 (N, 3, H, W) batch of images in the
channel order mmcv reads them (BGR) with values in 0-255: the data
preprocessor's channel flip and mean / std normalisation are folded into the
graph. Its outputs are:

- segmentors: ``seg_logits`` (N, classes, H, W), whole-image inference (the
  decode head's logits resized bilinearly to the input, as
  ``encode_decode`` does; argmax over classes gives the mask);
- classifiers: ``cls_score`` (N, classes), before softmax;
- ``--backbone-only``: ``feat0`` ... one per backbone output.

Detectors are exported with ``--backbone-only`` only: mmdet 3.x ships no ONNX
exporter of its own (its box decoding and NMS moved to MMDeploy).

Layers export themselves: FDAM's FreqScale computes its FFTs as products
with DFT matrices of the traced size while exporting (the check compares
them with the FFT model), so such models export for fixed shapes only and
``--dynamic`` is refused naming the layers; focal attention exports itself
through plain ops. The work is done by :mod:`mmfreq.deployment.onnx`; this
script parses the flags.

The check runs the exported file in onnxruntime and the model in PyTorch on
a random input and on a real photograph resized to the shape, prints the
largest absolute difference of every output and fails (exit 1) above
``--tolerance``. With ``--dynamic`` (batch, height and width dynamic) it also
checks a second size and a batch of two, and fails naming the operations the
exporter fixed to the traced size when the file does not follow the input.
"""

import argparse
import os.path as osp

from mmfreq.cli.errors import add_debug_argument, debugging, exit_on_error
from mmfreq.deployment import ExportError, build_exportable, check_export, export_onnx


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export to ONNX and check with onnxruntime')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (default: initial weights)')
    parser.add_argument('--shape', type=int, nargs=2, required=True, metavar=('H', 'W'),
                        help='input height and width')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--dynamic', action='store_true',
                        help='batch, height and width dynamic in the exported graph')
    parser.add_argument('--backbone-only', action='store_true',
                        help="export the backbone's feature maps")
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset version')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='largest allowed |onnxruntime - PyTorch| (fp32)')
    parser.add_argument('--skip-check', action='store_true', help='export only')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    with exit_on_error(debug=debugging(args)):
        for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
            if path is not None and not osp.isfile(path):
                raise ExportError(f'{what} file {path!r} does not exist')
        module, _ = build_exportable(args.config, args.checkpoint, args.backbone_only)
        traced_constants = export_onnx(module, args.shape, args.out, args.dynamic, args.opset)
        print(f'exported {module.what} of {args.config} '
              f'({"dynamic" if args.dynamic else "x".join(map(str, args.shape))}) to {args.out}')
        if not args.skip_check:
            check_export(module, args.out, args.shape, args.dynamic, args.tolerance,
                         traced_constants)


if __name__ == '__main__':
    main()
