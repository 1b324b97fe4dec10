"""ONNX export of a segmentor's logits, a classifier's scores or a backbone's
feature maps, with the data preprocessor folded in, and the onnxruntime check.

The graph's input ``image`` is a float32 (N, 3, H, W) batch of images in the
channel order mmcv reads them (BGR) with values in 0-255. Each layer that
needs another form for export provides it itself (FreqScale's DFT matrices
under ``torch.onnx.is_in_onnx_export()``), and a layer whose graph holds for
the traced size only says why in ``fixed_size_export``; nothing here changes
a module.
"""
import os
import os.path as osp
import warnings
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmfreq.errors import UserError


class ExportError(RuntimeError, UserError):
    """The model cannot be exported, or the exported file disagrees with PyTorch."""


class NormalizedInput(nn.Module):
    """A module on 0-255 BGR images: the data preprocessor's channel flip and
    normalisation, then ``what`` ('seg_logits', 'cls_score' or 'features')
    of ``model``.

    Args:
        model (nn.Module): An mmseg / mmdet / mmpretrain model built from a
            config (``model.cfg``, as ``mmfreq.apis.init_model`` returns it).
        what (str): 'seg_logits' (whole-image inference, resized to the input),
            'cls_score' or 'features' (the backbone's outputs).
    """

    def __init__(self, model: nn.Module, what: str) -> None:
        super().__init__()
        self.model, self.what = model, what
        preprocessor_cfg = model.cfg.model.get('data_preprocessor') or {}
        # the flag's name: mmseg's and mmdet's, mmpretrain's
        self.bgr_to_rgb = bool(preprocessor_cfg.get('bgr_to_rgb')
                               or preprocessor_cfg.get('rgb_to_bgr')
                               or preprocessor_cfg.get('to_rgb'))
        # the preprocessors register mean and std buffers only when they normalise
        mean = getattr(model.data_preprocessor, 'mean', None)
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer('mean', mean.detach().clone().view(1, -1, 1, 1))
            self.register_buffer('std', model.data_preprocessor.std.detach().clone()
                                 .view(1, -1, 1, 1))

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


def fixed_size_layers(model: nn.Module) -> Dict[str, Tuple[str, List[str]]]:
    """The layers of ``model`` whose export holds for the traced size only, by
    class name: (the reason the layer gives in ``fixed_size_export``, names)."""
    layers: Dict[str, Tuple[str, List[str]]] = {}
    for name, module in model.named_modules():
        reason = getattr(type(module), 'fixed_size_export', None)
        if reason:
            layers.setdefault(type(module).__name__, (reason, []))[1].append(name)
    return layers


def build_exportable(config: str, checkpoint: str = None,
                     backbone_only: bool = False) -> Tuple[NormalizedInput, str]:
    """The module to export and its host ('mmseg', 'mmdet', 'mmpretrain').

    Args:
        config: Config file.
        checkpoint: Checkpoint file; None keeps the initial weights (seed 0).
        backbone_only: Export the backbone's feature maps.

    Raises:
        ExportError: a whole detector was asked for (mmdet 3.x has no ONNX
            exporter; MMDeploy exports box decoding and NMS).
    """
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
    """The graph's output names: ``seg_logits``, ``cls_score`` or ``feat0`` ..."""
    if module.what != 'features':
        return [module.what]
    with torch.no_grad():
        count = len(module(torch.zeros(1, 3, *shape)))
    return [f'feat{i}' for i in range(count)]


def export_onnx(module: NormalizedInput, shape: Sequence[int], out: str, dynamic: bool = False,
                opset: int = 17) -> List[str]:
    """Write the ONNX file of ``module`` traced at ``shape`` (H, W).

    Args:
        module: What to export.
        shape: Input height and width.
        out: The .onnx file.
        dynamic: Batch, height and width dynamic in the graph.
        opset: ONNX opset version.

    Returns:
        The source lines the tracer warned about (values it fixed to the
        traced size), as ``file:line``.

    Raises:
        ExportError: ``dynamic`` with layers whose export holds for the traced
            size only (FreqScale, FocalAttention: their ``fixed_size_export``
            says why), or the exporter failed (its message kept).
    """
    fixed = fixed_size_layers(module) if dynamic else {}
    if fixed:
        raise ExportError('--dynamic: ' + '; '.join(
            f'{cls} ({", ".join(names[:3])}{", ..." if len(names) > 3 else ""}; '
            f'{len(names)} layers) {reason}' for cls, (reason, names) in fixed.items())
            + '. Drop --dynamic and export each shape you need')
    names = output_names(module, shape)
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {'image': axes}
        for name in names:
            dynamic_axes[name] = {0: 'batch'} if name == 'cls_score' else axes
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
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


def check_export(module: NormalizedInput, out: str, shape: Sequence[int], dynamic: bool,
                 tolerance: float, traced_constants: List[str]) -> None:
    """Run ``out`` in onnxruntime and ``module`` in PyTorch on a random input and
    a photograph (with ``dynamic`` also a second size and a batch of two);
    print the largest difference of each.

    Raises:
        ExportError: a difference above ``tolerance``, or a dynamic graph that
            does not follow the input (naming ``traced_constants``).
    """
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
    """The message for a dynamic graph that does not follow a ``label`` input."""
    where = ('; the exporter fixed values computed from the traced input size at '
             + ', '.join(traced_constants)) if traced_constants else ''
    return (f'the exported graph does not follow a {label} input ({err}){where}. This model '
            'exports for one fixed shape only: drop --dynamic and export each shape you need')
