"""Export a segmentor's logits, a classifier's scores or a backbone's feature
maps to ONNX, then check the file with onnxruntime against PyTorch.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] --shape H W \\
        --out model.onnx [--dynamic] [--backbone-only] [--opset 17]

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

FDAM's FreqScale filters in the frequency domain with ``torch.fft.rfft2`` /
``irfft2``, which the ONNX exporter does not support (``aten::fft_rfft2``);
for export the transforms are written as products with DFT matrices of the
traced size (the check compares them with the FFT model), so such models
export for fixed shapes only and ``--dynamic`` is refused naming the layers.
Focal attention's fused autograd function is exported through an equivalent
function of plain ops.

The check runs the exported file in onnxruntime and the model in PyTorch on
a random input and on a real photograph resized to the shape, prints the
largest absolute difference of every output and fails (exit 1) above
``--tolerance``. With ``--dynamic`` (batch, height and width dynamic) it also
checks a second size and a batch of two, and fails naming the operations the
exporter fixed to the traced size when the file does not follow the input.
"""
import argparse
import math
import os
import os.path as osp
import sys
import types
import warnings
from contextlib import contextmanager
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class ExportError(RuntimeError):
    """The model cannot be exported, or the exported file disagrees with PyTorch."""


class NormalizedInput(nn.Module):
    """A module on 0-255 BGR images: the data preprocessor's channel flip and
    normalisation, then ``what`` ('seg_logits', 'cls_score' or 'features')
    of ``model``."""

    def __init__(self, model: nn.Module, what: str) -> None:
        super().__init__()
        preprocessor = model.data_preprocessor
        self.model, self.what = model, what
        # the flag's name: mmseg's, mmengine's (mmdet), mmpretrain's
        self.bgr_to_rgb = any(getattr(preprocessor, name, False) for name in
                              ('channel_conversion', '_channel_conversion', 'to_rgb'))
        self.normalize = bool(getattr(preprocessor, '_enable_normalize', False))
        if self.normalize:
            self.register_buffer('mean', preprocessor.mean.detach().clone().view(1, -1, 1, 1))
            self.register_buffer('std', preprocessor.std.detach().clone().view(1, -1, 1, 1))

    def forward(self, image: torch.Tensor):
        if self.bgr_to_rgb:
            image = image.flip(1)
        if self.normalize:
            image = (image - self.mean) / self.std
        if self.what == 'features':
            return tuple(self.model.backbone(image))
        logits = self.model(image, mode='tensor')
        if self.what == 'seg_logits':  # whole-image inference, as encode_decode does
            logits = F.interpolate(logits, size=image.shape[2:], mode='bilinear',
                                   align_corners=self.model.align_corners)
        return logits


def dft_matrices(h: int, w: int) -> Tuple[torch.Tensor, ...]:
    """fp32 matrices of the 'ortho' 2-D real DFT of an (H, W) map.

    Returns ``(cos_h, sin_h)`` (H, H): real and imaginary part of the complex
    DFT along H (symmetric); ``(cos_w, sin_w)`` (W, W // 2 + 1): the half
    spectrum of each row; ``(icos_w, isin_w)`` (W // 2 + 1, W): back to a
    real row, every bin but DC and Nyquist counted twice, as ``irfft`` does.
    """
    def angles(n: int, k: int) -> torch.Tensor:
        return 2 * math.pi * torch.outer(torch.arange(n), torch.arange(k)).double() / n

    rows, half = angles(h, h), angles(w, w // 2 + 1)
    twice = torch.full((w // 2 + 1, 1), 2.0, dtype=torch.float64)
    twice[0] = 1
    if w % 2 == 0:
        twice[-1] = 1
    mats = (rows.cos() / math.sqrt(h), -rows.sin() / math.sqrt(h),
            half.cos() / math.sqrt(w), -half.sin() / math.sqrt(w),
            twice * half.t().cos() / math.sqrt(w), -twice * half.t().sin() / math.sqrt(w))
    return tuple(m.float() for m in mats)


def freq_scale_by_dft(self: nn.Module, x: torch.Tensor, residual: bool = False
                      ) -> torch.Tensor:
    """``FreqScale.forward`` with rfft2 / irfft2 as matrix products on x's size."""
    h, w = x.shape[-2:]
    x32 = x.float()
    cos_h, sin_h, cos_w, sin_w, icos_w, isin_w = dft_matrices(h, w)
    re, im = x32 @ cos_w, x32 @ sin_w  # along W: (B, C, H, W // 2 + 1)
    spec_re, spec_im = cos_h @ re - sin_h @ im, cos_h @ im + sin_h @ re  # along H
    filters = self.filters(spec_re[:, :, 0, 0] / math.sqrt(h * w), (h, w // 2 + 1))
    spec_re, spec_im = spec_re * filters, spec_im * filters
    # inverse along H with the conjugate matrix, then back to real rows
    re, im = cos_h @ spec_re + sin_h @ spec_im, cos_h @ spec_im - sin_h @ spec_re
    out = re @ icos_w + im @ isin_w
    return (x32 + out if residual else out).to(x.dtype)


def freq_scale_layers(model: nn.Module) -> List[str]:
    """Names of the FreqScale layers of ``model``."""
    from mmfreq.models.layers import FreqScale
    return [name for name, module in model.named_modules() if isinstance(module, FreqScale)]


def gathered_window_attention(q: torch.Tensor, table: torch.Tensor, index: torch.Tensor,
                              bias: torch.Tensor, masked: torch.Tensor, scale: float,
                              chunk: int) -> torch.Tensor:
    """``GatheredWindowAttention.apply`` (focal attention) without writes into a
    preallocated output: the exporter drops those in-place slice writes and
    leaves the uninitialised buffer in the graph."""
    from mmfreq.models.layers.focal_attention import gather_keys_values, window_chunks

    out = []
    for _, q_part, rows, mask in window_chunks(q, index, masked, chunk):
        k, v = gather_keys_values(table, rows, q.shape[2])
        out.append(F.scaled_dot_product_attention(q_part, k, v, attn_mask=bias + mask,
                                                  scale=scale).view(q.shape[0], -1,
                                                                    *q.shape[2:]))
    return torch.cat(out, 1)


@contextmanager
def exportable(model: nn.Module) -> Iterator[None]:
    """Inside, FreqScale layers compute their transforms with
    :func:`freq_scale_by_dft` and focal attention uses
    :func:`gathered_window_attention`: the same values in ops the exporter maps."""
    from mmfreq.models.layers import focal_attention

    layers = [model.get_submodule(name) for name in freq_scale_layers(model)]
    for layer in layers:
        layer.forward = types.MethodType(freq_scale_by_dft, layer)
    fused = focal_attention.GatheredWindowAttention
    focal_attention.GatheredWindowAttention = types.SimpleNamespace(
        apply=gathered_window_attention)
    try:
        yield
    finally:
        focal_attention.GatheredWindowAttention = fused
        for layer in layers:
            del layer.forward


def build(config: str, checkpoint: str, backbone_only: bool) -> Tuple[NormalizedInput, str]:
    """The model to export and its host (mmseg, mmdet, mmpretrain)."""
    from mmfreq.apis import init_model
    from mmfreq.apis.inference import host_of

    torch.manual_seed(0)  # without a checkpoint, the same weights on every run
    model = init_model(config, checkpoint, device='cpu')
    host = host_of(model.cfg)
    if backbone_only:
        return NormalizedInput(model, 'features').eval(), host
    if host == 'mmdet':
        raise ExportError(
            f'{config}: a detector (mmdet) is exported with --backbone-only only. mmdet 3.x '
            'has no ONNX exporter of its own; whole detectors (box decoding, NMS) are exported '
            'with MMDeploy')
    what = 'seg_logits' if host == 'mmseg' else 'cls_score'
    return NormalizedInput(model, what).eval(), host


def output_names(module: NormalizedInput, shape: Sequence[int]) -> List[str]:
    if module.what != 'features':
        return [module.what]
    with torch.no_grad():
        count = len(module(torch.zeros(1, 3, *shape)))
    return [f'feat{i}' for i in range(count)]


def export(module: NormalizedInput, shape: Sequence[int], out: str, dynamic: bool,
           opset: int) -> List[str]:
    """Write the ONNX file; returns the source lines the tracer warned about
    (values it fixed to the traced size)."""
    freq_scales = freq_scale_layers(module)
    if dynamic and freq_scales:
        raise ExportError(
            f'--dynamic: FreqScale ({", ".join(freq_scales[:3])}'
            f'{", ..." if len(freq_scales) > 3 else ""}; {len(freq_scales)} layers) filters the '
            'spectrum with torch.fft.rfft2 / irfft2, which torch.onnx.export does not support '
            '(aten::fft_rfft2); they are exported as DFT matrix products of one fixed size. '
            'Drop --dynamic and export each shape you need')
    names = output_names(module, shape)
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {'image': axes}
        for name in names:
            dynamic_axes[name] = {0: 'batch'} if name == 'cls_score' else axes
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with warnings.catch_warnings(record=True) as caught, torch.no_grad(), \
            exportable(module):
        warnings.simplefilter('always', torch.jit.TracerWarning)
        try:
            torch.onnx.export(module, (torch.rand(1, 3, *shape) * 255,), out,
                              input_names=['image'], output_names=names,
                              dynamic_axes=dynamic_axes, opset_version=opset,
                              do_constant_folding=True, dynamo=False)
        except Exception as err:  # the exporter raises many types; all name the op
            raise ExportError(f'torch.onnx.export failed: {type(err).__name__}: {err}') from err
    here = os.getcwd() + os.sep
    return sorted({f'{w.filename[len(here):] if w.filename.startswith(here) else w.filename}:'
                   f'{w.lineno}' for w in caught
                   if issubclass(w.category, torch.jit.TracerWarning)})


def photo(shape: Sequence[int]) -> np.ndarray:
    """matplotlib's sample photograph (Grace Hopper), BGR, resized to ``shape``."""
    import cv2
    from matplotlib import cbook

    image = cv2.imread(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def compare(module: NormalizedInput, session, names: List[str], image: np.ndarray
            ) -> Dict[str, float]:
    """Largest |onnxruntime - PyTorch| of each output on ``image`` (N, 3, H, W)."""
    with torch.no_grad():
        expected = module(torch.from_numpy(image))
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = session.run(names, {'image': image})
    diffs = {}
    for name, want, have in zip(names, expected, got):
        if tuple(want.shape) != have.shape:
            raise ExportError(f'output {name}: onnxruntime gives shape {have.shape}, '
                              f'PyTorch {tuple(want.shape)}')
        diffs[name] = float(np.abs(want.numpy() - have).max())
    return diffs


def check(module: NormalizedInput, out: str, shape: Sequence[int], dynamic: bool,
          tolerance: float, traced_constants: List[str]) -> None:
    """Run the checks of the module docstring; raise :class:`ExportError` on a failure."""
    import onnx
    import onnxruntime

    onnx.checker.check_model(out)
    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    generator = np.random.default_rng(0)
    h, w = shape
    cases = [('random', generator.uniform(0, 255, (1, 3, h, w))),
             ('photo', photo(shape).transpose(2, 0, 1)[None])]
    if dynamic:
        other = (h + 32, w + 64)
        cases += [(f'random {other[0]}x{other[1]}', generator.uniform(0, 255, (1, 3, *other))),
                  ('random batch of 2', generator.uniform(0, 255, (2, 3, h, w)))]
    for label, image in cases:
        image = np.ascontiguousarray(image, dtype=np.float32)
        try:
            diffs = compare(module, session, names, image)
        except Exception as err:
            raise ExportError(dynamic_failure(label, err, traced_constants)) from err
        worst = max(diffs.values())
        print(f'onnxruntime vs PyTorch, {label} input {"x".join(map(str, image.shape))}: '
              f'max abs diff {worst:.3e} '
              f'({", ".join(f"{k} {v:.1e}" for k, v in diffs.items())})')
        if not worst <= tolerance:
            message = f'{label} input: max abs diff {worst:.3e} > tolerance {tolerance:g}'
            if dynamic and label not in ('random', 'photo'):
                message = dynamic_failure(label, message, traced_constants)
            raise ExportError(message)


def dynamic_failure(label: str, err: object, traced_constants: List[str]) -> str:
    where = ('; the exporter fixed values computed from the traced input size at '
             + ', '.join(traced_constants)) if traced_constants else ''
    return (f'the exported graph does not follow a {label} input ({err}){where}. This model '
            'exports for one fixed shape only: drop --dynamic and export each shape you need')


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
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
            if path is not None and not osp.isfile(path):
                raise ExportError(f'{what} file {path!r} does not exist')
        module, _ = build(args.config, args.checkpoint, args.backbone_only)
        traced_constants = export(module, args.shape, args.out, args.dynamic, args.opset)
        print(f'exported {module.what} of {args.config} '
              f'({"dynamic" if args.dynamic else "x".join(map(str, args.shape))}) to {args.out}')
        if not args.skip_check:
            check(module, args.out, args.shape, args.dynamic, args.tolerance, traced_constants)
    except ExportError as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
