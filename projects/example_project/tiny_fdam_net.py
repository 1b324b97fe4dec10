"""A user's own backbone, registered in the mmfreq scope, with FDAM switchable.

A four-stage hierarchical transformer kept small on purpose: a strided conv
embeds each stage, then blocks of self-attention and MLP on the token grid.
``fdam=True`` uses mmfreq's FDAM parts, exactly as FDAM-DeiT3 does: AttInv in
the attention and a residual FreqScale after the attention and after the MLP.
"""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmfreq.models.layers import AttInvAttention, FreqScale, add_freq_scale
from mmfreq.registry import MODELS


class TinyBlock(nn.Module):
    """Pre-norm attention + MLP on (B, H*W, C) tokens, FDAM optional."""

    def __init__(self, channels: int, num_heads: int, fdam: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attn = AttInvAttention(channels, num_heads, att_inv=fdam)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(),
                                 nn.Linear(2 * channels, channels))
        groups = min(16, channels // 8)
        self.attn_freq_scale = FreqScale(channels, groups=groups) if fdam else None
        self.mlp_freq_scale = FreqScale(channels, groups=groups) if fdam else None

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        x = x + add_freq_scale(self.attn(self.norm1(x)), self.attn_freq_scale, hw)
        return x + add_freq_scale(self.mlp(self.norm2(x)), self.mlp_freq_scale, hw)


@MODELS.register_module()
class TinyFDAMNet(BaseModule):
    """Four stages at strides 4, 8, 16, 32.

    Args:
        channels (Sequence[int]): Width of each stage. Defaults to (32, 64, 128, 256).
        depths (Sequence[int]): Blocks per stage. Defaults to (1, 1, 2, 1).
        num_heads (Sequence[int]): Heads per stage. Defaults to (1, 2, 4, 8).
        fdam (bool): Use AttInv and FreqScale. Defaults to True.

    Shape:
        (B, 3, H, W) -> 4 maps (B, channels[i], ~H / 2**(i + 2), ~W / 2**(i + 2)).
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128, 256),
                 depths: Sequence[int] = (1, 1, 2, 1), num_heads: Sequence[int] = (1, 2, 4, 8),
                 fdam: bool = True, init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = [3, *channels[:-1]]
        self.embeds = nn.ModuleList(
            nn.Conv2d(c_in, c, 7 if i == 0 else 3, 4 if i == 0 else 2, 3 if i == 0 else 1)
            for i, (c_in, c) in enumerate(zip(in_channels, channels)))
        self.stages = nn.ModuleList(
            nn.ModuleList(TinyBlock(c, h, fdam) for _ in range(d))
            for c, d, h in zip(channels, depths, num_heads))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        for embed, blocks in zip(self.embeds, self.stages):
            x = embed(x)
            b, c, h, w = x.shape
            tokens = x.flatten(2).transpose(1, 2)
            for block in blocks:
                tokens = block(tokens, (h, w))
            x = tokens.transpose(1, 2).reshape(b, c, h, w)
            outs.append(x)
        return tuple(outs)
