"""mmseg's ``VisionTransformer`` (the ViT with a class token behind mmseg's
DeiT and ViT UperNet configs) with FDAM (Chen et al., "Frequency-Dynamic
Attention Modulation for Dense Prediction", ICCV 2025) in every block.

It takes mmseg's constructor arguments, so an mmseg config switches to it by
its ``type`` alone, and reads mmseg's checkpoints (``vit2mmseg.py`` output,
whole mmseg segmentors) as well as the DeiT / timm ViT releases. The blocks are
FDAM-ViT's :class:`~mmfreq.models.backbones.fdam_vit.FDAMBlock` without layer
scale; with ``att_inv=False`` and ``freq_scale=False`` the network computes
what mmseg's does on the same weights.
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from .arguments import init_cfg_with_pretrained, stage_indices
from .fdam_vit import FDAMBlock, rename_deit_key, resize_pos_embed


@MODELS.register_module()
class FDAMVisionTransformer(BaseModule):
    """mmseg's ViT (class token, mmseg's arguments) with AttInv and FreqScale.

    Each block is ``x + drop_path(Y + FreqScale(Y))`` with ``Y`` the (AttInv)
    attention of ``LN(x)``, then the same around the MLP: FDAM's block
    without layer scale, which mmseg's ViT and the DeiT weights do not have.
    The class token takes part in the attention and AttInv (the attention is
    over all tokens, so ``V - AV`` is defined for it too) but not in
    FreqScale: FreqScale filters the spectrum of the patch-token grid, which
    the class token is no part of, so it passes unchanged (its FreqScale term
    is zero) and the routers read the mean of the patch tokens only. The
    official FDAM code has no class token to decide this for.

    The arguments are those of mmseg 1.2's ``VisionTransformer``, with its
    defaults, plus ``att_inv``, ``freq_scale`` and ``freq_scale_cfg`` as in
    :class:`~mmfreq.models.FDAMViT`. Differences from mmseg's module:

    * Parameter names are FDAM-ViT's (``layers.i.norm1``, ``attn.qkv``,
      ``attn.proj``, ``patch_embed.proj``, final ``norm``, ``norm_pre``);
      mmseg's names (``ln1``, ``attn.attn.in_proj_weight``, ...) are
      converted on loading.
    * The position embedding is resized whenever the token grid differs from
      the ``img_size`` grid (mmseg compares token counts only, so it adds an
      unresized embedding to a 16 x 64 grid of a 32 x 32 embedding).
    * Stochastic depth acts on the attention and the MLP branch, as in DeiT
      and mmseg 0.x (which trained mmseg's published ViT and DeiT models);
      mmseg 1.x's layer drops the MLP branch only.
    * ``qkv_bias=False`` drops the qkv bias only (mmseg's
      ``nn.MultiheadAttention`` drops the output projection's bias too).
    * ``out_indices`` take negative indices from the end anywhere (mmseg:
      only a lone -1); ``patch_pad``, ``out_origin`` and ``frozen_exclude``
      are not taken.

    Every output is (B, C, ceil(H / p), ceil(W / p)) for patch size p: the
    input is zero-padded at the bottom and right (mmseg's 'corner' padding).

    Args:
        img_size (int | tuple[int, int]): Input size the position embedding
            is learned at. Defaults to 224.
        patch_size (int): Defaults to 16.
        in_channels (int): Defaults to 3.
        embed_dims (int): Channels C. Defaults to 768.
        num_layers (int): Blocks. Defaults to 12.
        num_heads (int): Attention heads. Defaults to 12.
        mlp_ratio (int): MLP width over C. Defaults to 4.
        out_indices (int | Sequence[int]): Blocks whose output is returned,
            negative from the end. Defaults to -1.
        qkv_bias (bool): Defaults to True.
        drop_rate (float): Dropout after the position embedding, the
            attention's projection and in the MLP. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth of the last block, rising
            linearly from 0 in the first, as in mmseg. Defaults to 0.
        with_cls_token (bool): Prepend the class token. Defaults to True.
        output_cls_token (bool): Return ``[grid, class token (B, C)]`` per
            output. Needs ``with_cls_token``. Defaults to False.
        norm_cfg (dict): LayerNorm only (``type='LN'``, optional ``eps``,
            default 1e-5 as mmcv's). Defaults to ``dict(type='LN')``.
        act_cfg (dict): Activation of the MLPs. Defaults to GELU.
        patch_norm (bool): A norm after the patch projection. Defaults to False.
        patch_bias (bool): A bias in the patch projection. Defaults to False,
            as in mmseg 1.x (whose loader then silently drops the bias of DeiT
            and timm weights; mmseg 0.x had it).
        pre_norm (bool): A norm before the first block. Defaults to False.
        final_norm (bool): A norm after the last block. Defaults to False.
        interpolate_mode (str): How the position embedding is resized.
            Defaults to 'bicubic'.
        num_fcs (int): Linear layers of each MLP. Defaults to 2.
        norm_eval (bool): LayerNorms in eval mode during training (as mmseg;
            a LayerNorm has no running statistics). Defaults to False.
        with_cp (bool): Activation checkpointing per block. Defaults to False.
        att_inv (bool): AttInv in every attention. Defaults to True.
        freq_scale (bool): FreqScale after every attention and MLP. Defaults to True.
        freq_scale_cfg (dict): Arguments of the FreqScales (groups,
            num_filters, basis_size, router_ratio, init_std). Defaults to FDAM's.
        pretrained (str, optional): The same as ``init_cfg=dict(type=
            'Pretrained', checkpoint=pretrained)``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH
            or URL[, prefix=...])`` loads, strictly, mmseg ViT checkpoints
            (``vit2mmseg.py`` output, whole segmentors), DeiT / timm ViT
            releases and mmfreq's own; the position embedding is resized to
            the ``img_size`` grid, FDAM parameters start fresh and are logged.
    """

    # Keys absent from a plain ViT checkpoint, and classification keys it may hold.
    fdam_keys = ('*.att_inv.*', '*freq_scale.*')
    classification_keys = ('norm.*', 'fc_norm.*', 'head.*', 'pre_logits.*')

    def __init__(self, img_size: Union[int, Tuple[int, int]] = 224, patch_size: int = 16,
                 in_channels: int = 3, embed_dims: int = 768, num_layers: int = 12,
                 num_heads: int = 12, mlp_ratio: int = 4,
                 out_indices: Union[int, Sequence[int]] = -1, qkv_bias: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, with_cls_token: bool = True,
                 output_cls_token: bool = False, norm_cfg: dict = dict(type='LN'),
                 act_cfg: dict = dict(type='GELU'), patch_norm: bool = False,
                 patch_bias: bool = False, pre_norm: bool = False, final_norm: bool = False,
                 interpolate_mode: str = 'bicubic', num_fcs: int = 2, norm_eval: bool = False,
                 with_cp: bool = False, att_inv: bool = True, freq_scale: bool = True,
                 freq_scale_cfg: dict = dict(), pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        owner = 'FDAMVisionTransformer'
        super().__init__(init_cfg=init_cfg_with_pretrained(pretrained, init_cfg, owner))
        if output_cls_token and not with_cls_token:
            raise ValueError(f'{owner}: output_cls_token=True needs with_cls_token=True')
        if norm_cfg.get('type') not in ('LN', 'LayerNorm') or set(norm_cfg) - {'type', 'eps'}:
            raise ValueError(f'{owner}: norm_cfg={norm_cfg} is not supported: give '
                             "dict(type='LN'[, eps=...])")
        img_hw = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if len(img_hw) == 1:
            img_hw = img_hw * 2
        if len(img_hw) != 2:
            raise ValueError(f'{owner}: img_size={img_size!r} must be an int or (height, width)')
        self.out_indices = stage_indices(out_indices, num_layers, owner)
        self.patch_size, self.interpolate_mode = patch_size, interpolate_mode
        self.with_cls_token, self.output_cls_token = with_cls_token, output_cls_token
        self.norm_eval, self.embed_dims = norm_eval, embed_dims
        self.pretrain_grid = (img_hw[0] // patch_size, img_hw[1] // patch_size)
        eps = norm_cfg.get('eps', 1e-5)

        def layer_norm() -> nn.LayerNorm:
            return nn.LayerNorm(embed_dims, eps=eps)

        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_channels, embed_dims, patch_size, patch_size,
                                         bias=patch_bias)
        self.patch_embed.norm = layer_norm() if patch_norm else None
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        # the class token's slot first, as in mmseg (also when it is not used)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, 1 + math.prod(self.pretrain_grid), embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        self.norm_pre = layer_norm() if pre_norm else None
        rates = torch.linspace(0, drop_path_rate, num_layers).tolist()
        self.layers = nn.ModuleList(
            FDAMBlock(embed_dims, num_heads, mlp_ratio * embed_dims, qkv_bias=qkv_bias,
                      drop_path=rate, layer_scale_init=None, att_inv=att_inv,
                      freq_scale=freq_scale, freq_scale_cfg=freq_scale_cfg, with_cp=with_cp,
                      norm_eps=eps, attn_drop=attn_drop_rate, drop_rate=drop_rate,
                      act_cfg=act_cfg, num_fcs=num_fcs,
                      num_prefix_tokens=int(with_cls_token))
            for rate in rates)
        self.norm = layer_norm() if final_norm else None

    def weight_formats(self) -> Tuple[WeightFormat, ...]:
        """The namings of ViT weights that ``init_cfg=dict(type='Pretrained')`` reads."""
        def convert(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
            return convert_vit_state_dict(state, self.pretrain_grid, self.interpolate_mode)

        return (
            WeightFormat('mmfreq FDAMVisionTransformer', markers=('layers.0.attn.qkv.weight', ),
                         convert=convert, may_be_new=self.fdam_keys,
                         may_be_dropped=self.classification_keys),
            WeightFormat("mmseg's VisionTransformer (vit2mmseg.py)",
                         markers=('layers.0.attn.attn.in_proj_weight', ), convert=convert,
                         may_be_new=self.fdam_keys, may_be_dropped=self.classification_keys),
            WeightFormat('DeiT / timm ViT release (blocks.*)',
                         markers=('blocks.0.attn.qkv.weight', 'cls_token'), convert=convert,
                         may_be_new=self.fdam_keys, may_be_dropped=self.classification_keys),
        )

    def init_weights(self) -> None:
        """Pretrained weights, or mmseg's ViT initialisation (truncated normal
        linears and embeddings, MLP biases at std 1e-6, Kaiming patch projection)."""
        if init_from_cfg(self, super().init_weights):
            return
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    if 'ffn' in name:
                        nn.init.normal_(m.bias, std=1e-6)
                    else:
                        nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_in')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def resized_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """(1, 1 + grid_h * grid_w, C): the class slot, then the grid part resized."""
        if tuple(grid) == self.pretrain_grid:
            return self.pos_embed
        return torch.cat([self.pos_embed[:, :1], resize_pos_embed(
            self.pos_embed[:, 1:], self.pretrain_grid, grid, self.interpolate_mode)], dim=1)

    def forward(self, x: torch.Tensor) -> Tuple[Union[torch.Tensor, List[torch.Tensor]], ...]:
        b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
        # while exporting, sizes as constants: the ONNX graph is of one size anyway
        # (FreqScale), and traced sizes would hide the output shapes that
        # UPerHead's adaptive pooling needs
        exporting = torch.onnx.is_in_onnx_export()
        if exporting:
            b, h, w = int(b), int(h), int(w)
        p = self.patch_size
        x = F.pad(x, (0, (w + p - 1) // p * p - w, 0, (h + p - 1) // p * p - h))
        x = self.patch_embed.proj(x)
        grid = tuple(int(s) for s in x.shape[-2:]) if exporting else tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        if self.patch_embed.norm is not None:
            x = self.patch_embed.norm(x)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = self.drop_after_pos(x + self.resized_pos_embed(grid))
        if not self.with_cls_token:
            x = x[:, 1:]
        if self.norm_pre is not None:
            x = self.norm_pre(x)
        prefix = int(self.with_cls_token)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x, grid)
            if i == len(self.layers) - 1 and self.norm is not None:
                x = self.norm(x)
            if i in self.out_indices:
                out = x[:, prefix:].transpose(1, 2).reshape(b, self.embed_dims, *grid)
                out = out.contiguous()
                outs.append([out, x[:, 0]] if self.output_cls_token else out)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'FDAMVisionTransformer':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.eval()
        return self


# mmseg's VisionTransformer names -> FDAMVisionTransformer names, applied in order.
_MMSEG_RENAMES = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^ln1\.', 'norm.'),
    (r'^ln_pre\.', 'norm_pre.'),
    (r'\.ln1\.', '.norm1.'),
    (r'\.ln2\.', '.norm2.'),
    (r'\.attn\.attn\.in_proj_', '.attn.qkv.'),
    (r'\.attn\.attn\.out_proj\.', '.attn.proj.'),
]


def convert_vit_state_dict(state_dict: Dict[str, torch.Tensor],
                           pretrain_grid: Tuple[int, int] = (14, 14),
                           interpolate_mode: str = 'bicubic') -> Dict[str, torch.Tensor]:
    """Map an mmseg ViT, DeiT / timm ViT or FDAMVisionTransformer state dict
    onto FDAMVisionTransformer's names.

    A ``pos_embed`` of a square grid of another size (after its class-token
    slot) is resized to ``pretrain_grid`` as mmseg's ViT does on loading.
    """
    converted = {}
    for key, value in state_dict.items():
        for pattern, replacement in _MMSEG_RENAMES:
            key = re.sub(pattern, replacement, key)
        converted[rename_deit_key(key)] = value
    pos_embed = converted.get('pos_embed')
    if pos_embed is not None and pos_embed.dim() == 3 \
            and pos_embed.shape[1] != 1 + math.prod(pretrain_grid):
        side = math.isqrt(pos_embed.shape[1] - 1)
        if side * side == pos_embed.shape[1] - 1:  # else: the shape check names it
            converted['pos_embed'] = torch.cat([pos_embed[:, :1], resize_pos_embed(
                pos_embed[:, 1:], (side, side), pretrain_grid, interpolate_mode)], dim=1)
    return converted
