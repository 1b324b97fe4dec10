"""mmfreq's attention layers with the attention at no cost, on the same
parameters: what runs around the attention (projections, AA-Conv's conv branch)
stays, so a network of them is the benchmarks' bound (docs/benchmarks.md).
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
