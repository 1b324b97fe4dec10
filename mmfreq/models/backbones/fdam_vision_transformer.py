"""mmseg's ``VisionTransformer`` (the ViT with a class token behind mmseg's
DeiT and ViT UperNet configs) with FDAM (Chen et al., "Frequency-Dynamic
Attention Modulation for Dense Prediction", ICCV 2025) in every block.

It takes mmseg's constructor arguments, so an mmseg config switches to it by
its ``type`` alone, and reads mmseg's checkpoints as well as the DeiT / timm
ViT releases. With ``att_inv=False`` and ``freq_scale=False`` it computes what
mmseg's does on the same weights.
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from ..arguments import (
    InvalidArgumentError,
    image_size,
    init_cfg_with_pretrained,
    stage_indices,
)
from ..layers.vit_parts import (
    FDAM_KEYS,
    FDAMBlock,
    check_image_batch,
    fit_checkpoint_pos_embed,
    pad_to_patch,
    rename_deit_key,
    resize_pos_embed,
)


@MODELS.register_module()
class FDAMVisionTransformer(BaseModule):
    """mmseg's ``VisionTransformer`` (class token, mmseg's arguments and
    defaults) with AttInv and FreqScale in every block.

    Each block is :class:`~mmfreq.models.layers.vit_parts.FDAMBlock` without
    layer scale; the class token takes part in the attention and AttInv but
    passes FreqScale unchanged. Every output is (B, C, ceil(H / p),
    ceil(W / p)) for patch size p (mmseg's 'corner' padding), or
    ``[grid, class token (B, C)]`` with ``output_cls_token``. Differences from
    mmseg's module (docs/backbones.md says why): FDAMDeiT3's parameter names
    (mmseg's are converted on loading); the position embedding is resized
    whenever the grid differs from the ``img_size`` grid; stochastic depth
    acts on both branches, as in mmseg 0.x; ``qkv_bias=False`` drops the qkv
    bias only; negative ``out_indices`` count from the end; ``patch_pad``,
    ``out_origin`` and ``frozen_exclude`` are not taken.

    Args:
        img_size, patch_size, in_channels, embed_dims, num_layers, num_heads,
        mlp_ratio, out_indices, qkv_bias, drop_rate, attn_drop_rate,
        drop_path_rate, with_cls_token, output_cls_token, act_cfg,
        patch_norm, patch_bias, pre_norm, final_norm, interpolate_mode,
        num_fcs, norm_eval, with_cp, pretrained, init_cfg: mmseg 1.2's, with
            its defaults.
        norm_cfg (dict): LayerNorm only (``type='LN'``, optional ``eps``,
            default 1e-5). Defaults to ``dict(type='LN')``.
        att_inv (bool): AttInv in every attention. Defaults to True.
        freq_scale (bool): FreqScale after every attention and MLP. Defaults to True.
        freq_scale_cfg (dict): Arguments of the FreqScales. Defaults to FDAM's.

    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads, strictly,
    mmseg ViT checkpoints, DeiT / timm ViT releases and mmfreq's own; FDAM
    parameters absent from the file start fresh and are logged.
    """

    # keys of a classification checkpoint that the backbone drops
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
            raise InvalidArgumentError(
                f'{owner}: output_cls_token=True needs with_cls_token=True')
        if norm_cfg.get('type') not in ('LN', 'LayerNorm') or set(norm_cfg) - {'type', 'eps'}:
            raise InvalidArgumentError(f'{owner}: norm_cfg={norm_cfg} is not supported: give '
                                       "dict(type='LN'[, eps=...])")
        img_hw = image_size(img_size, owner)
        self.out_indices = stage_indices(out_indices, num_layers, owner)
        self.patch_size, self.interpolate_mode = patch_size, interpolate_mode
        self.with_cls_token, self.output_cls_token = with_cls_token, output_cls_token
        self.norm_eval, self.embed_dims, self.in_channels = norm_eval, embed_dims, in_channels
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
                         convert=convert, may_be_new=FDAM_KEYS,
                         may_be_dropped=self.classification_keys),
            WeightFormat("mmseg's VisionTransformer (vit2mmseg.py)",
                         markers=('layers.0.attn.attn.in_proj_weight', ), convert=convert,
                         may_be_new=FDAM_KEYS, may_be_dropped=self.classification_keys),
            WeightFormat('DeiT / timm ViT release (blocks.*)',
                         markers=('blocks.0.attn.qkv.weight', 'cls_token'), convert=convert,
                         may_be_new=FDAM_KEYS, may_be_dropped=self.classification_keys),
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
        return resize_pos_embed(self.pos_embed, self.pretrain_grid, grid, self.interpolate_mode,
                                num_prefix_tokens=1)

    def forward(self, x: torch.Tensor) -> Tuple[Union[torch.Tensor, List[torch.Tensor]], ...]:
        check_image_batch(x, self.in_channels, 'FDAMVisionTransformer')
        # while exporting, sizes as constants: traced sizes would hide the
        # output shapes that UPerHead's adaptive pooling needs
        exporting = torch.onnx.is_in_onnx_export()
        b = int(x.shape[0]) if exporting else x.shape[0]
        x = self.patch_embed.proj(pad_to_patch(x, self.patch_size))
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
    if 'pos_embed' in converted:
        converted['pos_embed'] = fit_checkpoint_pos_embed(converted['pos_embed'], pretrain_grid,
                                                          1, interpolate_mode)
    return converted
