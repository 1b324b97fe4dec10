"""Parameters and FLOPs of a model with its attention counted (one FLOP is one
multiply-add; the convention: docs/model_zoo.md). mmengine's ``FlopAnalyzer`` has
no handle for ``scaled_dot_product_attention``, so attention would count as free.
"""
import math
from typing import Any, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape

from mmfreq.models.layers import AAConv2d


def scaled_dot_product_attention_flops(inputs: List[Any], outputs: List[Any]) -> int:
    """``aten::scaled_dot_product_attention`` on q (..., N, d), k (..., M, d),
    v (..., M, d_v): ``prod(...) * N * M * (d + d_v)``."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


ATTENTION_HANDLES = {
    'aten::scaled_dot_product_attention': scaled_dot_product_attention_flops,
}


def aa_conv_attention_flops(conv: AAConv2d, batch: int, height: int, width: int) -> int:
    """The attention of an :class:`AAConv2d` on a height x width grid as the AA
    paper counts it, ``N^2 (d_k + d_v)`` with N = height * width, in place of the
    SDPA count of its fused call (which has W + H more columns, padded to 8)."""
    n = height * width
    return batch * n * n * (conv.key_channels + conv.value_channels)


class ImagesOnlyDetector(nn.Module):
    """A detector called with images alone: its 'tensor' mode, with data samples
    giving each image's size (two-stage detectors clip and keep proposals by it),
    as mmdet's ``get_flops`` gives them. The detector is left as it was.

    Args:
        detector: An mmdet detector.
        shape: The input shape (B, 3, H, W) the samples are made for.
    """

    def __init__(self, detector: nn.Module, shape: Sequence[int]) -> None:
        super().__init__()
        from mmdet.structures import DetDataSample

        self.detector = detector
        size = tuple(shape[-2:])
        self.data_samples = [
            DetDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size,
                                        batch_input_shape=size, scale_factor=(1.0, 1.0)))
            for _ in range(shape[0])]

    def forward(self, inputs: torch.Tensor) -> Any:
        return self.detector(inputs, self.data_samples, mode='tensor')


def tracing_forward(model: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """A module whose forward the counter can trace with ``inputs`` alone.

    Segmentors, classifiers and backbones take images only ('tensor' mode)
    and are returned as they are; detectors are wrapped in an
    :class:`ImagesOnlyDetector` for the shape of ``inputs``.
    """
    if not hasattr(model, 'rpn_head') and not hasattr(model, 'bbox_head'):
        return model
    return ImagesOnlyDetector(model, inputs.shape)


def count_complexity(model: nn.Module, inputs: torch.Tensor) -> Dict[str, Any]:
    """``{'params': ..., 'flops': ..., 'uncounted_ops': [...]}`` of ``model`` on ``inputs``.

    Args:
        model: A segmentor, detector, classifier or backbone, in eval mode.
        inputs: One batch of images (B, 3, H, W).
    """
    grids: Dict[str, Tuple[int, int, int]] = {}
    traced = tracing_forward(model, inputs)
    names = {m: n for n, m in traced.named_modules()}

    def record_grid(module: nn.Module, args: Sequence[torch.Tensor], output: torch.Tensor) -> None:
        # int(): under the tracer, sizes are traced tensors
        grids[names[module]] = tuple(int(s) for s in (output.shape[0], *output.shape[-2:]))

    hooks = [m.register_forward_hook(record_grid) for m in model.modules()
             if isinstance(m, AAConv2d)]
    try:
        analyzer = FlopAnalyzer(traced, (inputs, ))
        analyzer.set_op_handle(**ATTENTION_HANDLES)
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        flops = analyzer.total()
        by_module = analyzer.by_module_and_operator()
    finally:
        for hook in hooks:
            hook.remove()
    for name, (batch, height, width) in grids.items():
        conv = traced.get_submodule(name)
        flops += aa_conv_attention_flops(conv, batch, height, width) - \
            by_module[name].get('scaled_dot_product_attention', 0)
    return dict(params=parameter_count(model)[''], flops=flops,
                uncounted_ops=sorted(analyzer.unsupported_ops()))
