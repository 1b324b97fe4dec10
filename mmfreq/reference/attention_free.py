"""The benchmarked layers with their attention at no cost, for the lowest ratio
a benchmark can show.

Each class has the parameters of the mmfreq layer it subclasses and keeps
what mmfreq and the reference formulation both run around the attention (the
input and output projections, AA-Conv's convolutional branch) but not the
attention itself. A network built with them times the part that no
implementation of the attention can make faster, so its time over the
reference network's is the best ratio any attention implementation could
reach on that machine (the ``attention_free`` model of
``tools/analysis_tools/benchmark_backbones.py``).
"""
import torch

from mmfreq.models.layers import AAConv2d, FocalAttention, LargeKernelAttention
from mmfreq.reference.formulations import swap_layer_types


class AttentionFreeFocalAttention(FocalAttention):
    """``proj(v)``: the qkv and output projections of focal attention, no attention."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[-1]
        return self.proj_drop(self.proj(self.qkv(x)[..., 2 * c:]))


class AttentionFreeLargeKernelAttention(LargeKernelAttention):
    """The identity: VAN's attention branch keeps its 1x1 projections and GELU
    (:class:`~mmfreq.models.layers.LKAAttention`), the large kernel costs nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class AttentionFreeAAConv2d(AAConv2d):
    """``concat(conv(x), proj(v))``: the convolution, the qkv and output 1x1
    convolutions (and the pooling for stride > 1) of AA-Conv, no attention."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, _, v = self.split_heads(x)
        b, _, h, w, _ = q.shape
        out = self.proj(v.transpose(-1, -2).reshape(b, self.value_channels, h, w))
        return out if self.conv is None else torch.cat([self.conv(x), out], dim=1)


def make_attention_free(model: torch.nn.Module) -> torch.nn.Module:
    """Swap every mmfreq attention layer of ``model`` for its attention-free
    stand-in in place (same parameters, other forward) and return ``model``."""
    return swap_layer_types(model, {FocalAttention: AttentionFreeFocalAttention,
                                    LargeKernelAttention: AttentionFreeLargeKernelAttention,
                                    AAConv2d: AttentionFreeAAConv2d})
