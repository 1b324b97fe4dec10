"""Focal Transformer (Yang et al., NeurIPS 2021) as a dense backbone.

Module names follow the official classification code, except the sub-window
pooling (``attn.pool_layers``), the MLP (mmcv's FFN) and the per-output norms
``norm{i}``, the last of which takes the official final ``norm``.
"""
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

from ..arguments import (
    arch_from_zoo,
    check_frozen_stages,
    freeze,
    init_cfg_with_pretrained,
    stage_indices,
)
from ..layers import FocalAttention, FreqScale, add_freq_scale


class PatchEmbed(nn.Module):
    """Strided conv + LayerNorm: the stem (stride 4) and the downsampling between stages.

    Non-overlapping patches (kernel = stride) pad the input at the bottom and
    right to a multiple of the stride; the "useconv" variant uses overlapping
    kernels (7 / padding 2 for the stem, 3 / padding 1 between stages).

    Shape:
        (B, C_in, H, W) -> (B, C_out, ceil(H / s), ceil(W / s)) (stem with
        conv: floor((H - 3) / 4) + 1).
    """

    def __init__(self, in_channels: int, embed_dims: int, stride: int,
                 use_conv_embed: bool = False) -> None:
        super().__init__()
        self.stride = stride
        if use_conv_embed:
            kernel, padding = (7, 2) if stride == 4 else (3, 1)
        else:
            kernel, padding = stride, 0
        self.overlapping = use_conv_embed
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel, stride, padding)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.overlapping:
            h, w = x.shape[-2:]
            x = F.pad(x, (0, -w % self.stride, 0, -h % self.stride))
        return self.norm(self.proj(x).permute(0, 2, 3, 1))  # (B, H', W', C)


class FocalBlock(nn.Module):
    """``x + FocalAttention(LN(x))``, then ``x + MLP(LN(x))``, on (B, H, W, C) maps.

    With ``fdam=True`` the attention has AttInv and each branch output y
    becomes ``y + FreqScale(y)``, as in FDAM's ViT blocks.
    """

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: float, drop_path: float,
                 with_cp: bool, fdam: bool = False, freq_scale_cfg: dict = dict(),
                 **attn_kwargs) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = FocalAttention(embed_dims, num_heads, att_inv=fdam, **attn_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, int(embed_dims * mlp_ratio), act_cfg=dict(type='GELU'),
                       add_identity=False)
        self.attn_freq_scale = FreqScale(embed_dims, **freq_scale_cfg) if fdam else None
        self.ffn_freq_scale = FreqScale(embed_dims, **freq_scale_cfg) if fdam else None

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        y = add_freq_scale(self.attn(self.norm1(x)), self.attn_freq_scale)
        x = x + self.drop_path(y)
        z = add_freq_scale(self.ffn(self.norm2(x)), self.ffn_freq_scale)
        return x + self.drop_path(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class FocalStage(nn.Module):
    """The blocks of one stage, then (except in the last) the downsampling embed."""

    def __init__(self, blocks: Sequence[FocalBlock], downsample: nn.Module = None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample


@MODELS.register_module()
class FocalTransformer(BaseModule):
    """Focal Transformer backbone for any input size.

    The arguments shared with mmdet's ``SwinTransformer`` mean what they mean
    there, except: negative ``out_indices`` count from the end (Swin returns
    nothing for them) and out-of-range ones raise; ``arch`` gives the stage
    layout (a dict replaces Swin's ``embed_dims`` / ``depths`` / ``num_heads``);
    Swin's ``pretrain_img_size``, ``patch_size``, ``strides``,
    ``use_abs_pos_embed``, ``patch_norm``, ``act_cfg``, ``norm_cfg`` and
    ``convert_weights`` have no counterpart (Focal's official models fix them).

    Args:
        arch (str | dict): 'tiny', 'small', 'base' (also 't', 's', 'b') or a
            dict with embed_dims, depths, num_heads.
        in_channels (int): Defaults to 3.
        use_conv_embed (bool): Overlapping conv patch embeddings (the official
            "useconv" models). Defaults to False.
        window_size (int): Defaults to 7.
        focal_windows (Sequence[int]): Pooled neighbourhood per stage.
            Defaults to (7, 5, 3, 1).
        expand_sizes (Sequence[int]): Ring width per stage. Defaults to
            (3, 3, 3, 0): the official ImageNet models are built at 224, where
            stage 4 is a single window and has no ring, so their weights have
            none there; give 3 to add one (its biases then start fresh).
        focal_level (int): 2 (window, ring and pooled tokens). Defaults to 2.
        mlp_ratio (float): Defaults to 4.
        qkv_bias (bool): Defaults to True.
        drop_path_rate (float): Stochastic depth, increasing linearly over the
            blocks. Defaults to 0.2.
        out_indices (int | Sequence[int]): Stages to output (negative from
            the end); each gets its own LayerNorm ``norm{i}``. Defaults to
            (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing, 0 the stem (patch
            embedding), k the stem and the first k stages with their output
            norms, as mmdet's Swin. Defaults to -1.
        with_cp (bool): Activation checkpointing per block. Defaults to False.
        fdam (bool): FDAM as a plug-in: AttInv in every focal attention and a
            residual FreqScale after every attention and MLP. Defaults to False.
        freq_scale_cfg (dict): Arguments of those FreqScales.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH
            or URL[, prefix=...])`` loads the official release, mmfreq's or a
            whole mmdet / mmseg model checkpoint, strictly (a checkpoint of
            another arch is refused, naming the keys; FDAM parameters absent
            from it start fresh and are logged).
        pretrained (str, optional): The same as ``init_cfg=dict(type=
            'Pretrained', checkpoint=pretrained)``, as in mmdet's Swin.

    Shape:
        (B, 3, H, W) -> stage i: (B, embed_dims * 2**i, ~H / 2**(i + 2), ~W / 2**(i + 2))
        (ceil division; any H, W).
    """

    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(embed_dims=96, depths=(2, 2, 6, 2),
                                            num_heads=(3, 6, 12, 24))),
        **dict.fromkeys(['s', 'small'], dict(embed_dims=96, depths=(2, 2, 18, 2),
                                             num_heads=(3, 6, 12, 24))),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=128, depths=(2, 2, 18, 2),
                                            num_heads=(4, 8, 16, 32))),
    }

    def __init__(self, arch: Union[str, dict] = 'tiny', in_channels: int = 3,
                 use_conv_embed: bool = False,
                 window_size: int = 7, focal_windows: Sequence[int] = (7, 5, 3, 1),
                 expand_sizes: Sequence[int] = (3, 3, 3, 0), focal_level: int = 2,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop_path_rate: float = 0.2,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3), frozen_stages: int = -1,
                 with_cp: bool = False, fdam: bool = False, freq_scale_cfg: dict = dict(),
                 init_cfg: Optional[dict] = None, pretrained: Optional[str] = None) -> None:
        super().__init__(
            init_cfg=init_cfg_with_pretrained(pretrained, init_cfg, 'FocalTransformer'))
        if not isinstance(arch, dict):
            arch = arch_from_zoo(arch, self.arch_zoo, 'FocalTransformer')
        depths, num_heads = arch['depths'], arch['num_heads']
        dims = [arch['embed_dims'] * 2**i for i in range(len(depths))]
        self.out_indices = stage_indices(out_indices, len(depths), 'FocalTransformer')
        self.frozen_stages = check_frozen_stages(frozen_stages, len(depths), 'FocalTransformer')
        self.patch_embed = PatchEmbed(in_channels, dims[0], 4, use_conv_embed)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.ModuleList()
        for i, (dim, depth, heads) in enumerate(zip(dims, depths, num_heads)):
            blocks = [FocalBlock(dim, heads, mlp_ratio, rates[sum(depths[:i]) + j], with_cp,
                                 fdam, freq_scale_cfg, window_size=window_size,
                                 expand_size=expand_sizes[i], focal_window=focal_windows[i],
                                 focal_level=focal_level, qkv_bias=qkv_bias)
                      for j in range(depth)]
            downsample = PatchEmbed(dim, dims[i + 1], 2, use_conv_embed) \
                if i < len(depths) - 1 else None
            self.layers.append(FocalStage(blocks, downsample))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(dims[i]))
        self.channels = dims
        self._freeze_stages()

    def weight_formats(self) -> Tuple[WeightFormat, ...]:
        """The namings of Focal weights that ``init_cfg=dict(type='Pretrained')`` reads.

        FDAM parameters, output norms (the official model has only the last) and,
        where stage 4 was one window at 224, its ring biases may be absent and
        start fresh; norms of stages not in ``out_indices`` are not loaded.
        """
        may_be_new = ('*.att_inv.*', '*freq_scale.*',
                      f'layers.{len(self.layers) - 1}.*.relative_position_bias_table_to_neighbors',
                      *(f'norm{i}.*' for i in self.out_indices))
        unused_norms = tuple(f'norm{i}.*' for i in range(len(self.layers))
                             if i not in self.out_indices)
        return (
            WeightFormat('mmfreq FocalTransformer',
                         markers=('layers.0.blocks.0.ffn.layers.0.0.weight', ),
                         may_be_new=may_be_new, may_be_dropped=unused_norms),
            WeightFormat('official Focal Transformer release (microsoft/Focal-Transformer)',
                         markers=('layers.0.blocks.0.mlp.fc1.weight', ),
                         convert=convert_focal_state_dict, may_be_new=may_be_new,
                         may_be_dropped=('head.*', ) + unused_norms),
        )

    def init_weights(self) -> None:
        if init_from_cfg(self, super().init_weights):
            return
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear) and 'pool_layers' not in name:
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.patch_embed(x)  # (B, H, W, C)
        outs = []
        for i, layer in enumerate(self.layers):
            for block in layer.blocks:
                x = block(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x).permute(0, 3, 1, 2).contiguous())
            if layer.downsample is not None:
                x = layer.downsample(x.permute(0, 3, 1, 2))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed, *self.layers[:self.frozen_stages]]
        frozen += [getattr(self, f'norm{i}') for i in self.out_indices if i < self.frozen_stages]
        freeze(frozen)

    def train(self, mode: bool = True) -> 'FocalTransformer':
        super().train(mode)
        self._freeze_stages()
        return self


# Official names -> mmfreq names, applied in order.
_RENAMES = [
    (r'\.blocks\.(\d+)\.pool_layers\.', r'.blocks.\1.attn.pool_layers.'),
    (r'\.mlp\.fc1\.', '.ffn.layers.0.0.'),
    (r'\.mlp\.fc2\.', '.ffn.layers.1.'),
    (r'^norm\.', 'norm3.'),
]
# Index buffers the official code saves; mmfreq rebuilds them for each input size.
_BUFFERS = re.compile(r'(relative_position_index(_\d+)?|valid_ind_rolled|valid_ind_unfold_\d+|'
                      r'attn_mask)$')


def convert_focal_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official Focal Transformer state dict (or an mmfreq one) to mmfreq names.

    The official final ``norm`` becomes ``norm3``, the norm of the last
    output; the classifier ``head`` is kept (and dropped on loading).
    """
    converted = {}
    for key, value in state_dict.items():
        if _BUFFERS.search(key):
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        converted[key] = value
    return converted
