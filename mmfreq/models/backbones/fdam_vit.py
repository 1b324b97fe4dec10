"""A DeiT-III style plain ViT for dense prediction with FDAM (Chen et al.,
"Frequency-Dynamic Attention Modulation for Dense Prediction", ICCV 2025).

Each block is ``x + gamma_1 * (Y + FreqScale(Y))`` with ``Y`` the (AttInv)
attention of ``LN(x)``, then the same around the MLP. With ``att_inv=False``
and ``freq_scale=False`` it is exactly DeiT-III's layer-scale block. Module
names follow DeiT-III (``patch_embed.proj``, ``pos_embed``, ``gamma_1``) except
``layers`` (mmseg's name, which its layer-decay optimizer constructor reads)
and the FFN (mmcv's); ``convert_fdam_vit_state_dict`` maps DeiT-III (official
and timm) and official FDAM checkpoints onto these names.
"""
import math
import re
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from ..layers import AttInvAttention, FreqScale, add_freq_scale
from .arguments import (
    arch_from_zoo,
    check_frozen_stages,
    freeze,
    init_cfg_with_pretrained,
    stage_indices,
)


class FDAMBlock(nn.Module):
    """Pre-norm transformer block with optional layer scale and FDAM parts.

    With ``layer_scale_init=None`` and both FDAM switches off it is the
    block of mmseg's ``VisionTransformer`` (``x + drop_path(attn(LN(x)))``,
    then the same around the MLP); with a float it is DeiT-III's layer-scale
    block. Class tokens and other tokens before the grid
    (``num_prefix_tokens``) take part in the attention, AttInv included (the
    attention stays square), but not in FreqScale, which filters the
    spectrum of the (H, W) token grid: they pass it unchanged.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Attention heads.
        feedforward_channels (int): Hidden width of the MLP.
        qkv_bias (bool): Bias of the qkv projection.
        drop_path (float): Stochastic depth rate of this block.
        layer_scale_init (float, optional): Initial value of ``gamma_1`` /
            ``gamma_2``; None: no layer scale. Defaults to 1e-4.
        att_inv (bool): AttInv in the attention.
        freq_scale (bool): A FreqScale after the attention and after the MLP.
        freq_scale_cfg (dict): Keyword arguments of both FreqScales.
        with_cp (bool): Recompute the block in the backward pass (saves memory).
        norm_eps (float): Epsilon of both LayerNorms. Defaults to 1e-6.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        drop_rate (float): Dropout after the attention's projection and in
            the MLP (mmseg's ``drop_rate``). Defaults to 0.
        act_cfg (dict): Activation of the MLP. Defaults to GELU.
        num_fcs (int): Linear layers of the MLP. Defaults to 2.
        num_prefix_tokens (int): Tokens before the grid (1 for a class
            token). Defaults to 0.

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

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, hw_shape, use_reentrant=False)
        return self._forward(x, hw_shape)


@MODELS.register_module()
class FDAMViT(BaseModule):
    """Plain ViT (DeiT-III style, no class token) with FDAM, for dense prediction.

    Every output is the token grid of one layer, (B, C, ceil(H / 16),
    ceil(W / 16)) for patch size 16: the input is zero-padded at the bottom
    and right to a multiple of the patch size, and the position embedding
    (learned on the ``img_size`` grid) is resized bicubically to the grid.
    Use the FDAM neck (``mmfreq.FDAMNeck``) to turn them into a pyramid.

    ``img_size``, ``patch_size``, ``in_channels``, ``out_indices``,
    ``qkv_bias``, ``drop_path_rate``, ``with_cp`` and ``init_cfg`` mean what
    they mean in mmseg's ``VisionTransformer``, and so does ``pretrained``
    (``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``). Differences: the layout is
    given by ``arch`` (a dict replaces mmseg's ``embed_dims`` / ``num_layers``
    / ``num_heads`` / ``mlp_ratio``); the default ``out_indices`` are four
    layers (mmseg: the last), and negative indices count from the end in a
    sequence too (mmseg matches only a lone -1); there is no class token,
    final norm or ``frozen_exclude``; ``frozen_stages`` follows mmpretrain's
    ViT (stages are layers).

    Args:
        arch (str | dict): 'small', 'base', 'large' (also 's', 'b', 'l') or a
            dict with embed_dims, num_layers, num_heads, feedforward_channels.
        img_size (int | tuple[int, int]): Input size the position embedding
            is learned at. Defaults to 224.
        patch_size (int): Defaults to 16.
        in_channels (int): Defaults to 3.
        out_indices (int | Sequence[int], optional): Layers whose output is
            returned, negative from the end. Defaults to the last layer of
            each quarter (2, 5, 8, 11 for 12 layers).
        qkv_bias (bool): Defaults to True.
        drop_path_rate (float): Stochastic depth, the same rate in every
            layer as in DeiT-III and the FDAM code. Defaults to 0.
        layer_scale_init (float): Initial layer scale. Defaults to 1e-4.
        att_inv (bool): AttInv in every attention. Defaults to True.
        freq_scale (bool): FreqScale after every attention and MLP. Defaults to True.
        freq_scale_cfg (dict): Arguments of the FreqScales (groups, num_filters,
            basis_size, router_ratio, init_std). Defaults to FDAM's.
        frozen_stages (int): -1 freezes nothing, 0 the stem (patch
            embedding and position embedding), k the stem and the first k
            layers. Defaults to -1.
        with_cp (bool): Activation checkpointing per block. Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH
            or URL[, prefix=...])`` loads DeiT-III (official or timm), official
            FDAM, mmfreq or whole mmseg / mmdet model checkpoints, strictly;
            FDAM parameters absent from a DeiT-III file start fresh and are
            logged.
        pretrained (str, optional): The same as ``init_cfg=dict(type=
            'Pretrained', checkpoint=pretrained)``, as in mmseg's ViT.
    """

    arch_zoo = {
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=384, num_layers=12, num_heads=6, feedforward_channels=1536)),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072)),
        **dict.fromkeys(['l', 'large'], dict(
            embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096)),
    }
    # Keys an FDAM-ViT may lack in a plain ViT checkpoint, and plain-ViT keys it drops.
    fdam_keys = ('*.att_inv.*', '*freq_scale.*')
    classification_keys = ('cls_token', 'norm.*', 'fc_norm.*', 'head.*', 'head_drop.*')

    def __init__(self, arch: Union[str, dict] = 'base',
                 img_size: Union[int, Tuple[int, int]] = 224, patch_size: int = 16,
                 in_channels: int = 3, out_indices: Optional[Union[int, Sequence[int]]] = None,
                 qkv_bias: bool = True, drop_path_rate: float = 0.0,
                 layer_scale_init: float = 1e-4, att_inv: bool = True,
                 freq_scale: bool = True, freq_scale_cfg: dict = dict(),
                 frozen_stages: int = -1, with_cp: bool = False,
                 init_cfg: Optional[dict] = None, pretrained: Optional[str] = None) -> None:
        super().__init__(init_cfg=init_cfg_with_pretrained(pretrained, init_cfg, 'FDAMViT'))
        if not isinstance(arch, dict):
            arch = arch_from_zoo(arch, self.arch_zoo, 'FDAMViT')
        num_layers, embed_dims = arch['num_layers'], arch['embed_dims']
        if out_indices is None:
            out_indices = [num_layers * q // 4 - 1 for q in range(1, 5)]
        self.out_indices = stage_indices(out_indices, num_layers, 'FDAMViT')
        self.frozen_stages = check_frozen_stages(frozen_stages, num_layers, 'FDAMViT')
        img_hw = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if len(img_hw) != 2:
            raise ValueError(f'FDAMViT: img_size={img_size!r} must be an int or (height, width)')
        self.patch_size, self.embed_dims = patch_size, embed_dims
        self.pretrain_grid = (img_hw[0] // patch_size, img_hw[1] // patch_size)
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_channels, embed_dims, patch_size, patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, math.prod(self.pretrain_grid), embed_dims))
        self.layers = nn.ModuleList(
            FDAMBlock(embed_dims, arch['num_heads'], arch['feedforward_channels'],
                      qkv_bias=qkv_bias, drop_path=drop_path_rate,
                      layer_scale_init=layer_scale_init, att_inv=att_inv,
                      freq_scale=freq_scale, freq_scale_cfg=freq_scale_cfg, with_cp=with_cp)
            for _ in range(num_layers))
        self._freeze_stages()

    def weight_formats(self) -> Tuple[WeightFormat, ...]:
        """The namings of ViT weights that ``init_cfg=dict(type='Pretrained')`` reads.

        Each is converted to this model's names and position-embedding grid;
        DeiT-III files lack the FDAM parameters, which start fresh.
        """
        def convert(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
            return convert_fdam_vit_state_dict(state, self.pretrain_grid)

        return (
            WeightFormat('mmfreq FDAMViT', markers=('layers.0.ffn.layers.0.0.weight', ),
                         convert=convert, may_be_new=self.fdam_keys),
            WeightFormat('official FDAM release (Linwei-Chen/FDAM, FDAM_mmseg)',
                         markers=('blocks.0.gamma_1', 'blocks.0.freq_scale_1.*'),
                         convert=convert, may_be_dropped=self.classification_keys),
            WeightFormat('official DeiT-III release (facebookresearch/deit)',
                         markers=('blocks.0.gamma_1', ), convert=convert,
                         may_be_new=self.fdam_keys, may_be_dropped=self.classification_keys),
            WeightFormat("timm's DeiT-III (deit3_*)", markers=('blocks.0.ls1.gamma', ),
                         convert=convert, may_be_new=self.fdam_keys,
                         may_be_dropped=self.classification_keys),
        )

    def init_weights(self) -> None:
        if init_from_cfg(self, super().init_weights):
            return
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def resized_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """(1, grid_h * grid_w, C): the position embedding resized bicubically."""
        if tuple(grid) == self.pretrain_grid:
            return self.pos_embed
        return resize_pos_embed(self.pos_embed, self.pretrain_grid, grid)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        h, w = x.shape[-2:]
        p = self.patch_size
        # ceil-division rather than -w % p: Python's modulo of a symbolic size
        # is not supported by torch.compile's scalar passes
        x = F.pad(x, (0, (w + p - 1) // p * p - w, 0, (h + p - 1) // p * p - h))
        x = self.patch_embed.proj(x)
        grid = tuple(x.shape[-2:])
        # token-major and contiguous: the residual adds keep their input's layout,
        # so a transposed stream would make every LayerNorm copy it
        x = x.flatten(2).transpose(1, 2).contiguous() + self.resized_pos_embed(grid)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x, grid)
            if i in self.out_indices:
                outs.append(x.transpose(1, 2).reshape(x.shape[0], -1, *grid).contiguous())
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        freeze([self.patch_embed, *self.layers[:self.frozen_stages]])
        self.pos_embed.requires_grad = False

    def train(self, mode: bool = True) -> 'FDAMViT':
        super().train(mode)
        self._freeze_stages()
        return self


def resize_pos_embed(pos_embed: torch.Tensor, src_grid: Tuple[int, int],
                     dst_grid: Tuple[int, int], mode: str = 'bicubic') -> torch.Tensor:
    """Resize of a (1, src_h * src_w, C) position embedding to dst_grid
    (``F.interpolate`` with ``mode``, bicubic by default, align_corners=False)."""
    c = pos_embed.shape[-1]
    grid = pos_embed.float().reshape(1, *src_grid, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_grid, mode=mode, align_corners=False)
    return grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)


# Official FDAM / DeiT-III / timm DeiT-III names -> mmfreq names, applied in order.
_RENAMES = [
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
    :class:`FDAMBlock` 's names (``blocks.3.mlp.fc1.weight`` ->
    ``layers.3.ffn.layers.0.0.weight``); other names unchanged."""
    for pattern, replacement in _RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def convert_fdam_vit_state_dict(state_dict: Dict[str, torch.Tensor],
                                pretrain_grid: Tuple[int, int] = (14, 14)
                                ) -> Dict[str, torch.Tensor]:
    """Map a DeiT-III (official or timm), official FDAM or mmfreq FDAM-ViT state dict.

    A class-token slot in ``pos_embed`` (timm ViTs) is dropped and a square
    grid of another size resized to ``pretrain_grid``. The official FDAM
    code's built-in pyramid (``up1``...``up4``) belongs to the neck and is
    left out here.
    """
    converted = {}
    for key, value in state_dict.items():
        if key.startswith(('up1.', 'up2.', 'up3.', 'up4.')):
            continue
        converted[rename_deit_key(key)] = value
    pos_embed = converted.get('pos_embed')
    if pos_embed is not None and pos_embed.dim() == 3 \
            and pos_embed.shape[1] != math.prod(pretrain_grid):
        n = pos_embed.shape[1]
        if math.isqrt(n) ** 2 != n:  # a leading class-token slot
            pos_embed, n = pos_embed[:, 1:], n - 1
        side = math.isqrt(n)
        if side * side == n:  # else: not a square grid; the shape check names it
            pos_embed = resize_pos_embed(pos_embed, (side, side), pretrain_grid)
        converted['pos_embed'] = pos_embed
    return converted
