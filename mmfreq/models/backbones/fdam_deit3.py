"""DeiT-III's plain ViT (layer scale, no class token) for dense prediction
with FDAM (Chen et al., "Frequency-Dynamic Attention Modulation for Dense
Prediction", ICCV 2025): the paper's headline backbone, used with FDAMNeck.

Module names follow DeiT-III (``patch_embed.proj``, ``pos_embed``,
``gamma_1``) except ``layers`` (mmseg's name, read by its layer-decay
optimizer constructor) and the FFN (mmcv's); :func:`convert_deit3_state_dict`
maps DeiT-III (official and timm) and official FDAM checkpoints onto them.
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from ..arguments import (
    arch_from_zoo,
    check_frozen_stages,
    freeze,
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
class FDAMDeiT3(BaseModule):
    """DeiT-III's ViT (layer scale, no class token) with FDAM, for dense prediction.

    Every output is the token grid of one layer, (B, C, ceil(H / p),
    ceil(W / p)) for patch size p: the input is zero-padded at the bottom and
    right to whole patches and the position embedding (learned on the
    ``img_size`` grid) resized bicubically to the grid. ``mmfreq.FDAMNeck``
    turns the outputs into a pyramid.

    Arguments shared with mmseg's ``VisionTransformer`` mean what they mean
    there. Differences: ``arch`` gives the layout; the default
    ``out_indices`` are four layers; there is no class token, final norm or
    ``frozen_exclude``; ``frozen_stages`` follows mmpretrain's ViT.

    Args:
        arch (str | dict): 'small', 'base', 'large' (also 's', 'b', 'l') or a
            dict with embed_dims, num_layers, num_heads, feedforward_channels.
        img_size, patch_size, in_channels, qkv_bias, with_cp, init_cfg,
        pretrained: mmseg's (224, 16, 3, True, False, None, None).
        out_indices (int | Sequence[int], optional): Layers whose output is
            returned, negative from the end. Defaults to the last layer of
            each quarter (2, 5, 8, 11 for 12 layers).
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

    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads DeiT-III
    (official or timm), official FDAM, mmfreq or whole mmseg / mmdet model
    checkpoints, strictly; FDAM parameters absent from a DeiT-III file start
    fresh and are logged.
    """

    arch_zoo = {
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=384, num_layers=12, num_heads=6, feedforward_channels=1536)),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072)),
        **dict.fromkeys(['l', 'large'], dict(
            embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096)),
    }
    # keys of a classification checkpoint that the backbone drops
    classification_keys = ('cls_token', 'norm.*', 'fc_norm.*', 'head.*', 'head_drop.*')

    def __init__(self, arch: Union[str, dict] = 'base',
                 img_size: Union[int, Tuple[int, int]] = 224, patch_size: int = 16,
                 in_channels: int = 3, out_indices: Optional[Union[int, Sequence[int]]] = None,
                 qkv_bias: bool = True, drop_path_rate: float = 0.0,
                 layer_scale_init: float = 1e-4, att_inv: bool = True,
                 freq_scale: bool = True, freq_scale_cfg: dict = dict(),
                 frozen_stages: int = -1, with_cp: bool = False,
                 init_cfg: Optional[dict] = None, pretrained: Optional[str] = None) -> None:
        super().__init__(init_cfg=init_cfg_with_pretrained(pretrained, init_cfg, 'FDAMDeiT3'))
        if not isinstance(arch, dict):
            arch = arch_from_zoo(arch, self.arch_zoo, 'FDAMDeiT3')
        num_layers, embed_dims = arch['num_layers'], arch['embed_dims']
        if out_indices is None:
            out_indices = [num_layers * q // 4 - 1 for q in range(1, 5)]
        self.out_indices = stage_indices(out_indices, num_layers, 'FDAMDeiT3')
        self.frozen_stages = check_frozen_stages(frozen_stages, num_layers, 'FDAMDeiT3')
        img_hw = image_size(img_size, 'FDAMDeiT3')
        self.patch_size, self.embed_dims, self.in_channels = patch_size, embed_dims, in_channels
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
        """The namings of ViT weights that ``init_cfg=dict(type='Pretrained')`` reads."""
        def convert(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
            return convert_deit3_state_dict(state, self.pretrain_grid)

        return (
            WeightFormat('mmfreq FDAMDeiT3', markers=('layers.0.ffn.layers.0.0.weight', ),
                         convert=convert, may_be_new=FDAM_KEYS),
            WeightFormat('official FDAM release (Linwei-Chen/FDAM, FDAM_mmseg)',
                         markers=('blocks.0.gamma_1', 'blocks.0.freq_scale_1.*'),
                         convert=convert, may_be_dropped=self.classification_keys),
            WeightFormat('official DeiT-III release (facebookresearch/deit)',
                         markers=('blocks.0.gamma_1', ), convert=convert,
                         may_be_new=FDAM_KEYS, may_be_dropped=self.classification_keys),
            WeightFormat("timm's DeiT-III (deit3_*)", markers=('blocks.0.ls1.gamma', ),
                         convert=convert, may_be_new=FDAM_KEYS,
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
        return resize_pos_embed(self.pos_embed, self.pretrain_grid, grid)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        check_image_batch(x, self.in_channels, 'FDAMDeiT3')
        x = self.patch_embed.proj(pad_to_patch(x, self.patch_size))
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

    def train(self, mode: bool = True) -> 'FDAMDeiT3':
        super().train(mode)
        self._freeze_stages()
        return self


def convert_deit3_state_dict(state_dict: Dict[str, torch.Tensor],
                             pretrain_grid: Tuple[int, int] = (14, 14)
                             ) -> Dict[str, torch.Tensor]:
    """Map a DeiT-III (official or timm), official FDAM or FDAMDeiT3 state dict.

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
    if 'pos_embed' in converted:
        converted['pos_embed'] = fit_checkpoint_pos_embed(converted['pos_embed'], pretrain_grid)
    return converted
