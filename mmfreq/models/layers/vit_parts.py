"""The parts mmfreq's FDAM backbones share: the FDAM transformer block, the
checkpointed forward of a token block, the input check, padding to whole
patches, position-embedding resizing and the DeiT / FDAM key renaming."""
import math
import re
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import FFN

from mmfreq.errors import UserError

from .att_inv import AttInvAttention
from .freq_scale import FreqScale, add_freq_scale

# Keys an FDAM backbone has and a checkpoint of its host without FDAM lacks.
FDAM_KEYS = ('*.att_inv.*', '*freq_scale.*')


class InputShapeError(IndexError, RuntimeError, UserError):
    """An input that is not an N x C x H x W batch of the model's channels (mmseg's
    ViT fails on it with an IndexError, its convolutions with a RuntimeError)."""


def check_image_batch(x: torch.Tensor, in_channels: int, owner: str) -> None:
    """Raise :class:`InputShapeError` unless ``x`` is N x ``in_channels`` x H x W."""
    if torch.jit.is_tracing():  # sizes are traced values there; the trace is of one shape
        return
    if x.dim() != 4 or x.shape[1] != in_channels:
        raise InputShapeError(f'{owner}: expected an N x {in_channels} x H x W image batch, '
                              f'got a tensor of shape {tuple(x.shape)}')


def pad_to_patch(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Zero-pad (B, C, H, W) at the bottom and right to whole patches (mmseg's 'corner')."""
    h, w = x.shape[-2:]
    if torch.onnx.is_in_onnx_export():  # constants: the ONNX graph is of one size anyway
        h, w = int(h), int(w)
    p = patch_size
    # ceil-division rather than -w % p: Python's modulo of a symbolic size
    # is not supported by torch.compile's scalar passes
    return F.pad(x, (0, (w + p - 1) // p * p - w, 0, (h + p - 1) // p * p - h))


def resize_pos_embed(pos_embed: torch.Tensor, src_grid: Tuple[int, int],
                     dst_grid: Tuple[int, int], mode: str = 'bicubic',
                     num_prefix_tokens: int = 0) -> torch.Tensor:
    """A (1, P + src_h * src_w, C) position embedding for ``dst_grid``: the grid
    part resized (``F.interpolate`` with ``mode``, align_corners=False), the P
    prefix slots (a class token's) kept; the same tensor where the grids agree."""
    if tuple(dst_grid) == tuple(src_grid):
        return pos_embed
    p, c = num_prefix_tokens, pos_embed.shape[-1]
    grid = pos_embed[:, p:].float().reshape(1, *src_grid, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_grid, mode=mode, align_corners=False)
    grid = grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)
    return torch.cat([pos_embed[:, :p], grid], dim=1) if p else grid


def fit_checkpoint_pos_embed(pos_embed: torch.Tensor, grid: Tuple[int, int],
                             num_prefix_tokens: int = 0, mode: str = 'bicubic') -> torch.Tensor:
    """A checkpoint's position embedding of a square grid, resized to a model's
    ``grid`` after its ``num_prefix_tokens`` (0 or 1) slots; a class-token slot
    the model lacks is dropped. Other shapes are left for the shape check to name."""
    if pos_embed.dim() != 3:
        return pos_embed
    n = pos_embed.shape[1] - num_prefix_tokens
    if n == math.prod(grid):
        return pos_embed
    if num_prefix_tokens == 0 and math.isqrt(n) ** 2 != n:  # a leading class-token slot
        pos_embed, n = pos_embed[:, 1:], n - 1
    side = math.isqrt(n)
    if side * side != n:
        return pos_embed
    return resize_pos_embed(pos_embed, (side, side), grid, mode, num_prefix_tokens)


# Official FDAM / DeiT / DeiT-III / timm names -> FDAMBlock's names, applied in order.
_DEIT_RENAMES = [
    (r'^blocks\.', 'layers.'),
    (r'\.ls1\.gamma$', '.gamma_1'),  # timm
    (r'\.ls2\.gamma$', '.gamma_2'),  # timm
    (r'\.mlp\.fc1\.', '.ffn.layers.0.0.'),
    (r'\.mlp\.fc2\.', '.ffn.layers.1.'),
    (r'\.attn\.dy_freq_starrelu\.', '.attn.att_inv.gate_act.'),
    (r'\.attn\.dy_freq_2\.', '.attn.att_inv.lowpass_gate.'),
    (r'\.attn\.dy_freq\.', '.attn.att_inv.highpass_gate.'),
    (r'\.attn\.lf_gamma$', '.attn.att_inv.lowpass_gamma'),
    (r'\.attn\.hf_gamma$', '.attn.att_inv.highpass_gamma'),
    (r'\.freq_scale_1\.', '.attn_freq_scale.'),
    (r'\.freq_scale_2\.', '.ffn_freq_scale.'),
    (r'\.reweight\.fc1\.', '.router.0.'),
    (r'\.reweight\.act\.', '.router.1.'),
    (r'\.reweight\.fc2\.', '.router.2.'),
    (r'\.complex_weights$', '.basis'),
]


def rename_deit_key(key: str) -> str:
    """A DeiT / DeiT-III (official or timm) or official FDAM parameter name in
    :class:`FDAMBlock`'s names (``blocks.3.mlp.fc1.weight`` ->
    ``layers.3.ffn.layers.0.0.weight``); other names unchanged."""
    for pattern, replacement in _DEIT_RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


class CheckpointedBlock(nn.Module):
    """A block whose ``_forward(x, *args)``, defined by the subclass, is
    recomputed in the backward pass when ``with_cp`` is set (saves memory)."""

    with_cp = False

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, *args, use_reentrant=False)
        return self._forward(x, *args)


class FDAMBlock(CheckpointedBlock):
    """Pre-norm transformer block with optional layer scale and FDAM parts:
    ``x + drop_path(gamma_1 * (Y + FreqScale(Y)))`` with ``Y`` the (AttInv)
    attention of ``LN(x)``, then the same around the MLP.

    With ``layer_scale_init=None`` and both FDAM switches off it is the block
    of mmseg's ``VisionTransformer``; with a float, DeiT-III's layer-scale
    block. Tokens before the grid (``num_prefix_tokens``, e.g. a class token)
    take part in the attention and AttInv but pass FreqScale unchanged.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Attention heads.
        feedforward_channels (int): Hidden width of the MLP.
        qkv_bias (bool): Bias of the qkv projection.
        drop_path (float): Stochastic depth rate of this block.
        layer_scale_init (float, optional): Initial ``gamma_1`` / ``gamma_2``;
            None: no layer scale. Defaults to 1e-4.
        att_inv (bool): AttInv in the attention.
        freq_scale (bool): A FreqScale after the attention and after the MLP.
        freq_scale_cfg (dict): Keyword arguments of both FreqScales.
        with_cp (bool): Recompute the block in the backward pass.
        norm_eps (float): Epsilon of both LayerNorms. Defaults to 1e-6.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        drop_rate (float): Dropout after the attention's projection and in
            the MLP (mmseg's ``drop_rate``). Defaults to 0.
        act_cfg (dict): Activation of the MLP. Defaults to GELU.
        num_fcs (int): Linear layers of the MLP. Defaults to 2.
        num_prefix_tokens (int): Tokens before the grid. Defaults to 0.

    Shape:
        x: (B, P + H*W, C) with ``hw_shape`` = (H, W), P = ``num_prefix_tokens``
        -> (B, P + H*W, C).
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 qkv_bias: bool = True, drop_path: float = 0.0,
                 layer_scale_init: Optional[float] = 1e-4, att_inv: bool = True,
                 freq_scale: bool = True, freq_scale_cfg: dict = dict(),
                 with_cp: bool = False, norm_eps: float = 1e-6, attn_drop: float = 0.0,
                 drop_rate: float = 0.0, act_cfg: dict = dict(type='GELU'),
                 num_fcs: int = 2, num_prefix_tokens: int = 0) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.num_prefix_tokens = num_prefix_tokens
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = AttInvAttention(embed_dims, num_heads, qkv_bias=qkv_bias,
                                    attn_drop=attn_drop, proj_drop=drop_rate, att_inv=att_inv)
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs=num_fcs, act_cfg=act_cfg,
                       ffn_drop=drop_rate, add_identity=False)
        self.attn_freq_scale = FreqScale(embed_dims, **freq_scale_cfg) if freq_scale else None
        self.ffn_freq_scale = FreqScale(embed_dims, **freq_scale_cfg) if freq_scale else None
        if layer_scale_init is None:
            self.gamma_1 = self.gamma_2 = None
        else:
            self.gamma_1 = nn.Parameter(torch.full((embed_dims,), layer_scale_init))
            self.gamma_2 = nn.Parameter(torch.full((embed_dims,), layer_scale_init))
        self.drop_path_rate = drop_path
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _add_scaled(self, x: torch.Tensor, gamma: Optional[torch.Tensor],
                    y: torch.Tensor) -> torch.Tensor:
        """``x + drop_path(gamma * y)``; one pass over the tokens when no path is dropped."""
        if gamma is None:
            return x + self.drop_path(y)
        if self.training and self.drop_path_rate > 0:
            return x + self.drop_path(gamma * y)
        return torch.addcmul(x, y, gamma)

    def _add_freq_scale(self, y: torch.Tensor, freq_scale: Optional[FreqScale],
                        hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``y + FreqScale(y)`` on the grid tokens; prefix tokens pass unchanged."""
        p = self.num_prefix_tokens
        if freq_scale is None or p == 0:
            return add_freq_scale(y, freq_scale, hw_shape)
        return torch.cat([y[:, :p], add_freq_scale(y[:, p:], freq_scale, hw_shape)], dim=1)

    def _forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        y = self._add_freq_scale(self.attn(self.norm1(x)), self.attn_freq_scale, hw_shape)
        x = self._add_scaled(x, self.gamma_1, y)
        z = self._add_freq_scale(self.ffn(self.norm2(x)), self.ffn_freq_scale, hw_shape)
        return self._add_scaled(x, self.gamma_2, z)
