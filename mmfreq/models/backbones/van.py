"""Visual Attention Network (Guo et al., "Visual Attention Network", 2022).

Module names follow the stage structure (``stages.{i}.patch_embed``,
``stages.{i}.blocks.{j}``, ``stages.{i}.norm``); the official and mmpretrain
checkpoints are mapped onto them in memory (:attr:`VAN.weight_formats`).
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_eval

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from ..arguments import (
    arch_from_zoo,
    check_frozen_stages,
    freeze,
    init_cfg_with_pretrained,
    stage_indices,
)
from ..layers import LKAAttention


def _bn_affine(bn: _BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)`` with ``bn(x) == x * scale + shift`` in eval mode (per channel)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _fold_bn_into_next_conv(bn: _BatchNorm, conv: nn.Conv2d) -> None:
    """Rewrite the 1x1 ``conv`` in place so that ``conv(x) == conv(bn(x))``.

    Exact only for a 1x1, ungrouped conv (no padding sees BN's shift).
    """
    scale, shift = _bn_affine(bn)
    weight = conv.weight.flatten(1)  # (out, in)
    conv.bias.data += weight @ shift
    conv.weight.data *= scale[None, :, None, None]


def _scale_conv_output(conv: nn.Conv2d, scale: torch.Tensor) -> None:
    """Rewrite ``conv`` in place so that its output is multiplied by ``scale`` (C_out,)."""
    conv.weight.data *= scale[:, None, None, None]
    conv.bias.data *= scale


class OverlapPatchEmbed(nn.Module):
    """Strided conv with overlapping patches, then BatchNorm.

    Shape:
        (B, C_in, H, W) -> (B, C_out, ceil(H / s), ceil(W / s)), s = stride.
    """

    def __init__(self, in_channels: int, out_channels: int, patch_size: int, stride: int,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, patch_size, stride, patch_size // 2)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))

    def switch_to_deploy(self) -> None:
        if isinstance(self.norm, nn.Identity):
            return
        self.proj = fuse_conv_bn_eval(self.proj, self.norm)
        self.norm = nn.Identity()


class ConvMlp(nn.Module):
    """1x1 conv, 3x3 depth-wise conv, GELU, 1x1 conv (VAN's MLP).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, hidden_channels: int, drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden_channels, 1)
        self.dwconv = nn.Conv2d(
            hidden_channels, hidden_channels, 3, padding=1, groups=hidden_channels)
        self.fc2 = nn.Conv2d(hidden_channels, channels, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(F.gelu(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


class VANBlock(nn.Module):
    """``x + ls1 * (LKAAttention(BN(x)) + BN(x))``, then ``x + ls2 * MLP(BN(x))``.

    After :meth:`switch_to_deploy` the two BatchNorms and layer scales live
    inside the adjacent 1x1 convs; only a per-channel affine shortcut remains.

    Args:
        channels (int): Channels C.
        mlp_ratio (float): MLP hidden channels = ``mlp_ratio * C``.
        drop_rate (float): Dropout in the MLP.
        drop_path_rate (float): Stochastic depth rate of this block.
        layer_scale_init_value (float): Initial value of both layer scales.
        norm_cfg (dict): The two pre-norms, a BatchNorm type (BN, SyncBN).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, mlp_ratio: float = 4., drop_rate: float = 0.,
                 drop_path_rate: float = 0., layer_scale_init_value: float = 1e-2,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.attn = LKAAttention(channels)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        self.mlp = ConvMlp(channels, int(channels * mlp_ratio), drop_rate)
        self.layer_scale_1 = nn.Parameter(torch.full((channels,), layer_scale_init_value))
        self.layer_scale_2 = nn.Parameter(torch.full((channels,), layer_scale_init_value))
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.deploy = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            x = torch.addcmul(self.shortcut_shift, x, self.shortcut_scale) + self.attn(x)
            return x + self.mlp(x)
        y = self.norm1(x)
        y = self.attn(y) + y
        x = x + self.drop_path(self.layer_scale_1[:, None, None] * y)
        y = self.mlp(self.norm2(x))
        return x + self.drop_path(self.layer_scale_2[:, None, None] * y)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold BatchNorms and layer scales into the 1x1 convs (inference only).

        ``x + ls1 * (attn(BN1(x)) + BN1(x))`` with ``BN1(x) = a * x + b``
        becomes ``x * (1 + ls1 * a) + ls1 * b + attn'(x)``.
        """
        if self.deploy:
            return
        ls1, ls2 = self.layer_scale_1.detach(), self.layer_scale_2.detach()
        scale, shift = _bn_affine(self.norm1)
        self.register_buffer('shortcut_scale', (1 + ls1 * scale)[:, None, None])
        self.register_buffer('shortcut_shift', (ls1 * shift)[:, None, None])
        _fold_bn_into_next_conv(self.norm1, self.attn.proj_1)
        _scale_conv_output(self.attn.proj_2, ls1)
        _fold_bn_into_next_conv(self.norm2, self.mlp.fc1)
        _scale_conv_output(self.mlp.fc2, ls2)
        del self.norm1, self.norm2, self.layer_scale_1, self.layer_scale_2
        self.deploy = True


class VANStage(nn.Module):
    """Patch embedding, one VAN block per drop-path rate, then LayerNorm over
    channels (eps ``norm_eps``)."""

    def __init__(self, in_channels: int, channels: int, mlp_ratio: float,
                 patch_size: int, stride: int, drop_rate: float,
                 drop_path_rates: Sequence[float], layer_scale_init_value: float,
                 norm_cfg: dict, norm_eps: float) -> None:
        super().__init__()
        self.patch_embed = OverlapPatchEmbed(in_channels, channels, patch_size, stride, norm_cfg)
        self.blocks = nn.ModuleList(
            VANBlock(channels, mlp_ratio, drop_rate, dpr, layer_scale_init_value, norm_cfg)
            for dpr in drop_path_rates)
        self.norm = nn.LayerNorm(channels, eps=norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for block in self.blocks:
            x = block(x)
        # LayerNorm over channels in NHWC; the result stays channels-last.
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@MODELS.register_module()
class VAN(BaseModule):
    """Visual Attention Network backbone for dense prediction.

    Four stages at strides 4, 8, 16, 32. Each stage embeds overlapping
    patches (conv k7 s4 first, then k3 s2, each followed by BatchNorm), runs
    VAN blocks (Large Kernel Attention and a conv MLP, both pre-BatchNorm with
    layer scale) and ends with a LayerNorm over channels. Any H, W is
    accepted: stage i has ``ceil(H / 2**(i+2))`` rows.

    The arguments are those of mmpretrain's ``VAN`` where it has them, with
    these differences: ``norm_cfg`` is the BatchNorm of the patch embeddings
    and blocks (mmpretrain hard-codes BN there, and its ``norm_cfg`` is the
    stage LayerNorm, whose eps here is ``stage_norm_eps``; an LN
    ``norm_cfg`` is refused with that advice); ``frozen_stages=k`` freezes
    the stem and the first k stages, as mmdet's Swin and mmpretrain's ResNet
    do (mmpretrain's VAN freezes k+1 stages for the same k); the defaults of
    ``out_indices`` (all four stages) and ``drop_path_rate`` (0.1) suit dense
    prediction; there is no ``block_cfgs``.

    Args:
        arch (str | dict): A key of :attr:`arch_zoo` (``'b0'``..``'b6'``, or
            mmpretrain's names ``'t'/'tiny'``, ``'s'/'small'``, ``'b'/'base'``,
            ``'l'/'large'`` = b0..b3), or a dict with keys ``embed_dims``,
            ``depths`` and ``mlp_ratios`` (or mmpretrain's ``ffn_ratios``),
            four entries each.
        patch_sizes (Sequence[int]): Kernel of each stage's patch embedding;
            stride ``k // 2 + 1``, padding ``k // 2`` (mmpretrain's rule).
            Defaults to (7, 3, 3, 3).
        in_channels (int): Input image channels. Defaults to 3.
        drop_rate (float): Dropout in the MLPs. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate, rising linearly over
            all blocks to this value. Defaults to 0.1.
        layer_scale_init_value (float): Initial layer scale. Defaults to 1e-2.
        out_indices (int | Sequence[int]): Stages whose outputs are returned;
            negative indices count from the end. Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing, 0 the stem (the first patch
            embedding), k the first k stages (no grad, eval mode). Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training.
            Defaults to False.
        norm_cfg (dict): BatchNorm of the patch embeddings and blocks; use
            ``dict(type='SyncBN')`` for multi-GPU training with small batches.
            Defaults to ``dict(type='BN')``.
        stage_norm_eps (float): eps of the LayerNorm ending each stage.
            Defaults to 1e-6, VAN-Classification's (``partial(nn.LayerNorm,
            eps=1e-6)`` in its ``models/van.py``), which made the ImageNet
            weights; VAN-Segmentation's trained ADE20K models used torch's
            default 1e-5 (``nn.LayerNorm(embed_dims[i])`` in its
            ``tools/van.py``, as mmseg 1.x ``projects/van`` and mmpretrain's
            VAN), so the ``*_released.py`` configs set 1e-5.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH
            or URL[, prefix=...])`` loads the official release, mmpretrain's,
            mmfreq's or a whole mmseg / mmdet / mmpretrain model checkpoint,
            strictly (:func:`mmfreq.utils.load_pretrained_weights`).
        pretrained (str, optional): The same as ``init_cfg=dict(type=
            'Pretrained', checkpoint=pretrained)`` (what mmseg's
            ``EncoderDecoder(pretrained=...)`` passes on).

    Shape:
        Input (B, in_channels, H, W); output i: (B, embed_dims[i],
        ceil(H / 2**(i+2)), ceil(W / 2**(i+2))) for i in ``out_indices``
        (with the default patch sizes).
    """

    arch_zoo: Dict[str, Dict[str, List[int]]] = {
        **dict.fromkeys(['b0', 't', 'tiny'], dict(
            embed_dims=[32, 64, 160, 256], depths=[3, 3, 5, 2], mlp_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['b1', 's', 'small'], dict(
            embed_dims=[64, 128, 320, 512], depths=[2, 2, 4, 2], mlp_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['b2', 'b', 'base'], dict(
            embed_dims=[64, 128, 320, 512], depths=[3, 3, 12, 3], mlp_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['b3', 'l', 'large'], dict(
            embed_dims=[64, 128, 320, 512], depths=[3, 5, 27, 3], mlp_ratios=[8, 8, 4, 4])),
        'b4': dict(embed_dims=[64, 128, 320, 512], depths=[3, 6, 40, 3], mlp_ratios=[8, 8, 4, 4]),
        'b5': dict(embed_dims=[96, 192, 480, 768], depths=[3, 3, 24, 3], mlp_ratios=[8, 8, 4, 4]),
        'b6': dict(embed_dims=[96, 192, 384, 768], depths=[6, 6, 90, 6], mlp_ratios=[8, 8, 4, 4]),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'b2',
                 patch_sizes: Sequence[int] = (7, 3, 3, 3),
                 in_channels: int = 3,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 layer_scale_init_value: float = 1e-2,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 stage_norm_eps: float = 1e-6,
                 init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None) -> None:
        super().__init__(init_cfg=init_cfg_with_pretrained(pretrained, init_cfg, 'VAN'))
        settings = self._arch_settings(arch)
        self.embed_dims = settings['embed_dims']
        depths = settings['depths']
        if len(patch_sizes) != len(depths):
            raise ValueError(f'VAN: patch_sizes={tuple(patch_sizes)} needs one kernel size '
                             f'per stage ({len(depths)})')
        if isinstance(build_norm_layer(norm_cfg, 8)[1], nn.LayerNorm):
            raise ValueError(
                f'VAN: norm_cfg={norm_cfg} is a LayerNorm, but mmfreq.VAN\'s norm_cfg is the '
                'BatchNorm of the patch embeddings and blocks (e.g. dict(type="SyncBN")). The '
                'stage norms are LayerNorms (mmpretrain\'s norm_cfg=dict(type="LN")) whose eps '
                'is stage_norm_eps, so leave norm_cfg out')
        self.out_indices = stage_indices(out_indices, len(depths), 'VAN')
        self.frozen_stages = check_frozen_stages(frozen_stages, len(depths), 'VAN')
        self.norm_eval = norm_eval

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        for i, depth in enumerate(depths):
            first = sum(depths[:i])
            self.stages.append(VANStage(
                in_channels if i == 0 else self.embed_dims[i - 1], self.embed_dims[i],
                settings['mlp_ratios'][i], patch_sizes[i], patch_sizes[i] // 2 + 1,
                drop_rate, dpr[first:first + depth], layer_scale_init_value, norm_cfg,
                stage_norm_eps))
        self._freeze_stages()

    @classmethod
    def _arch_settings(cls, arch: Union[str, dict]) -> Dict[str, List[int]]:
        if not isinstance(arch, dict):
            return arch_from_zoo(arch, cls.arch_zoo, 'VAN')
        arch = dict(arch)
        if 'ffn_ratios' in arch and 'mlp_ratios' not in arch:  # mmpretrain's name
            arch['mlp_ratios'] = arch.pop('ffn_ratios')
        keys = {'embed_dims', 'depths', 'mlp_ratios'}
        if set(arch) != keys:
            raise ValueError(f'a custom VAN arch needs exactly the keys {sorted(keys)} '
                             f'(mlp_ratios may be called ffn_ratios), got {sorted(arch)}')
        if len({len(v) for v in arch.values()}) != 1:
            raise ValueError(f'a custom VAN arch needs one entry per stage in each of '
                             f'{sorted(keys)}, got {arch}')
        return arch

    def weight_formats(self) -> Tuple[WeightFormat, ...]:
        """The namings of VAN weights that ``init_cfg=dict(type='Pretrained')`` reads."""
        return VAN_WEIGHT_FORMATS

    def init_weights(self) -> None:
        if init_from_cfg(self, super().init_weights):
            return
        # The official initialisation: He-normal over fan-out for convs.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0, (2.0 / fan_out) ** 0.5)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # Depth-wise convs are faster on channels-last tensors (oneDNN on CPU,
        # cuDNN on GPU); the outputs are handed back in the usual layout.
        x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x.contiguous())
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze([self.stages[0].patch_embed, *self.stages[:self.frozen_stages]])

    def train(self, mode: bool = True) -> 'VAN':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def switch_to_deploy(self) -> None:
        """Fold every BatchNorm and layer scale into its neighbouring conv.

        For inference only: the result computes the same function (up to
        float rounding) with fewer ops, and can no longer be trained.
        """
        self.eval()
        for m in self.modules():
            if isinstance(m, (OverlapPatchEmbed, VANBlock)):
                m.switch_to_deploy()


# Official (Visual-Attention-Network/VAN-Classification models/van.py) and
# mmpretrain (mmpretrain/models/backbones/van.py) names -> mmfreq names:
# stage prefixes first (1-based stage numbers there, 0-based here), then the
# renames inside a block, in order.
_VAN_PREFIX_PATTERNS = (
    (re.compile(r'^patch_embed(\d)\.(?:proj|projection)\.'), 'stages.{0}.patch_embed.proj.'),
    (re.compile(r'^patch_embed(\d)\.norm\.'), 'stages.{0}.patch_embed.norm.'),
    (re.compile(r'^blocks?(\d)\.(\d+)\.'), 'stages.{0}.blocks.{1}.'),
    (re.compile(r'^norm(\d)\.'), 'stages.{0}.norm.'),
)
_VAN_BLOCK_RENAMES = (
    ('attn.spatial_gating_unit.DW_conv.', 'attn.lka.conv0.'),  # mmpretrain
    ('attn.spatial_gating_unit.DW_D_conv.', 'attn.lka.conv_spatial.'),  # mmpretrain
    ('attn.spatial_gating_unit.', 'attn.lka.'),  # official: conv0, conv_spatial, conv1
    ('mlp.dwconv.dwconv.', 'mlp.dwconv.'),  # official wraps the dw conv in a module
)


def convert_van_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official or mmpretrain VAN state dict onto :class:`VAN`'s names.

    Accepts the official release (``patch_embed1.proj``, ``block1.0.attn.
    spatial_gating_unit.conv0``, ``norm1``, ``head``) and mmpretrain's
    backbone (``patch_embed1.projection``, ``blocks1.0.attn.
    spatial_gating_unit.DW_conv``). Keys of neither (e.g. the classifier
    ``head``) are passed through unchanged, for the strict loader to judge.
    """
    converted = {}
    for key, value in state_dict.items():
        for pattern, template in _VAN_PREFIX_PATTERNS:
            match = pattern.match(key)
            if match:
                stage = int(match.group(1)) - 1
                key = template.format(stage, *match.groups()[1:]) + key[match.end():]
                for old, new in _VAN_BLOCK_RENAMES:
                    key = key.replace(old, new)
                break
        converted[key] = value
    return converted


VAN_WEIGHT_FORMATS = (
    WeightFormat('mmfreq VAN', markers=('stages.0.patch_embed.proj.weight', )),
    WeightFormat('official VAN release (VAN-Classification)',
                 markers=('patch_embed1.proj.weight', 'block1.0.attn.spatial_gating_unit.*'),
                 convert=convert_van_state_dict, may_be_dropped=('head.*', )),
    WeightFormat("mmpretrain's VAN",
                 markers=('patch_embed1.projection.weight', 'blocks1.0.attn.*'),
                 convert=convert_van_state_dict, may_be_dropped=('head.*', )),
)
