"""SegFormer's Mix Transformer (Xie et al., "SegFormer: Simple and Efficient
Design for Semantic Segmentation with Transformers", NeurIPS 2021) with FDAM
(Chen et al., "Frequency-Dynamic Attention Modulation for Dense Prediction",
ICCV 2025) in every block.

Module names are those of mmseg's ``MixVisionTransformer`` (``layers.{i}.0``
patch embedding, ``layers.{i}.1.{j}`` blocks, ``layers.{i}.2`` stage norm,
the attention's projections in ``attn.attn.in_proj_weight`` / ``out_proj``),
so with FDAM off mmseg's converted ``mit_b*.pth`` and mmseg SegFormer
checkpoints load as they are; :func:`convert_mit_state_dict` maps the NVlabs
release onto them. docs/backbones.md says why AttInv's high-pass values are
chosen as they are where keys and values are reduced.
"""
import re
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, normal_init, trunc_normal_init

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from ..arguments import (
    InvalidArgumentError,
    arch_from_zoo,
    check_frozen_stages,
    freeze,
    init_cfg_with_pretrained,
    stage_indices,
)
from ..layers import AttInv, FreqScale, add_freq_scale
from ..layers.vit_parts import FDAM_KEYS, CheckpointedBlock, check_image_batch

# The values AttInv's high-pass term ``V - AV`` subtracts AV from where the keys
# and values are spatially reduced (sr_ratio > 1).
HIGHPASS_VALUES = ('query', 'upsampled')


class EfficientAttention(nn.Module):
    """SegFormer's efficient self-attention, optionally with AttInv.

    Keys and values come from the tokens reduced ``sr_ratio`` times per side
    by a strided conv and a LayerNorm (``sr``, ``norm``; none at sr_ratio 1).
    The projections are those of mmseg's ``EfficientMultiheadAttention``, an
    ``nn.MultiheadAttention`` named ``attn`` (``in_proj_weight`` rows: query,
    key, value), but the attention is computed here so that AttInv sees the
    values. Where sr_ratio > 1, AttInv's ``V - AV`` takes V from
    ``highpass_values``: 'query' (default), the value projection of the
    full-resolution query tokens; 'upsampled', the reduced values upsampled
    bilinearly.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        sr_ratio (int): Spatial reduction of keys and values (1: none).
        qkv_bias (bool): Biases of the projections (mmseg: ``qkv_bias``).
        attn_drop (float): Dropout on the attention weights.
        proj_drop (float): Dropout after the output projection.
        att_inv (bool): Add AttInv (low- and high-pass terms).
        highpass_values (str): 'query' or 'upsampled' (only read where
            sr_ratio > 1 and att_inv is on).
        norm_eps (float): Epsilon of the LayerNorm after ``sr``. Defaults to 1e-6.

    Shape:
        x: (B, H*W, C) tokens of an ``hw_shape`` (H, W) grid -> (B, H*W, C).
    """

    def __init__(self, embed_dims: int, num_heads: int, sr_ratio: int = 1,
                 qkv_bias: bool = True, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 att_inv: bool = True, highpass_values: str = 'query',
                 norm_eps: float = 1e-6) -> None:
        super().__init__()
        if highpass_values not in HIGHPASS_VALUES:
            raise InvalidArgumentError(f'EfficientAttention: highpass_values='
                                       f'{highpass_values!r} is not one of {HIGHPASS_VALUES}')
        self.num_heads, self.sr_ratio = num_heads, sr_ratio
        self.attn_drop, self.highpass_values = attn_drop, highpass_values
        # a holder of mmseg's parameters (names and initialisation); its forward is not used
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, bias=qkv_bias, batch_first=True)
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, sr_ratio, sr_ratio)
            self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.att_inv = AttInv(embed_dims, num_heads) if att_inv else None

    def _heads(self, x: torch.Tensor, parts: int) -> Tuple[torch.Tensor, ...]:
        """(B, N, parts * C) -> ``parts`` tensors (B, heads, N, C / heads)."""
        b, n, _ = x.shape
        return x.view(b, n, parts, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        weight, bias = self.attn.in_proj_weight, self.attn.in_proj_bias
        if self.sr_ratio == 1:
            q, k, v = self._heads(F.linear(x, weight, bias), 3)
            query_values = v
        else:
            grid = self.sr(x.transpose(1, 2).reshape(b, c, *hw_shape))
            reduced = self.norm(grid.flatten(2).transpose(1, 2))
            k, v = self._heads(F.linear(reduced, weight[c:], None if bias is None else bias[c:]),
                               2)
            if self.att_inv is not None and self.highpass_values == 'query':
                rows = torch.cat([weight[:c], weight[2 * c:]])
                rows_bias = None if bias is None else torch.cat([bias[:c], bias[2 * c:]])
                q, query_values = self._heads(F.linear(x, rows, rows_bias), 2)
            else:
                q, = self._heads(F.linear(x, weight[:c], None if bias is None else bias[:c]), 1)
                query_values = v
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        if self.att_inv is not None:
            if self.sr_ratio > 1 and self.highpass_values == 'upsampled':
                values = v.transpose(-1, -2).reshape(b, c, *grid.shape[-2:])
                values = F.interpolate(values, size=hw_shape, mode='bilinear',
                                       align_corners=False)
                query_values = values.view(b, self.num_heads, -1, n).transpose(-1, -2)
            out = self.att_inv(x, out, query_values)
        out = out.transpose(1, 2).reshape(b, n, c)
        out_proj = self.attn.out_proj
        return self.proj_drop(F.linear(out, out_proj.weight, out_proj.bias))


class MixFFN(nn.Module):
    """SegFormer's Mix-FFN: 1x1 conv, 3x3 depth-wise conv, GELU, 1x1 conv on
    the token grid (``layers`` indexed as mmseg's: 0, 1 and 4 hold weights).

    Shape:
        x: (B, H*W, C) tokens of an ``hw_shape`` grid -> (B, H*W, C), contiguous.
    """

    def __init__(self, embed_dims: int, feedforward_channels: int, drop: float = 0.0) -> None:
        super().__init__()
        hidden = feedforward_channels
        self.layers = nn.Sequential(
            nn.Conv2d(embed_dims, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.GELU(), nn.Dropout(drop),
            nn.Conv2d(hidden, embed_dims, 1), nn.Dropout(drop))

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        out = self.layers(x.transpose(1, 2).reshape(b, c, *hw_shape))
        return out.flatten(2).transpose(1, 2).contiguous()


class FDAMMiTBlock(CheckpointedBlock):
    """``x + drop_path(Y + FreqScale(Y))`` with ``Y`` the (AttInv) efficient
    attention of ``LN(x)``, then the same around the Mix-FFN: FDAM's block
    (the FreqScales before the drop path) on SegFormer's, which has no layer
    scale. With both switches off it is mmseg's ``TransformerEncoderLayer``.

    Args:
        embed_dims, num_heads, feedforward_channels, sr_ratio, qkv_bias,
        drop_rate, attn_drop_rate, drop_path, with_cp: mmseg's layer's.
        att_inv (bool): AttInv in the attention.
        freq_scale (bool): A FreqScale after the attention and after the Mix-FFN.
        freq_scale_cfg (dict): Keyword arguments of both FreqScales.
        highpass_values (str): See :class:`EfficientAttention`.
        sr_norm_eps (float): Epsilon of the attention's spatial-reduction norm.

    Shape:
        x: (B, H*W, C) with ``hw_shape`` = (H, W) -> (B, H*W, C).
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 sr_ratio: int = 1, qkv_bias: bool = True, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path: float = 0.0, att_inv: bool = True,
                 freq_scale: bool = True, freq_scale_cfg: dict = dict(),
                 highpass_values: str = 'query', with_cp: bool = False,
                 sr_norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = EfficientAttention(embed_dims, num_heads, sr_ratio, qkv_bias=qkv_bias,
                                       attn_drop=attn_drop_rate, proj_drop=drop_rate,
                                       att_inv=att_inv, highpass_values=highpass_values,
                                       norm_eps=sr_norm_eps)
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ffn = MixFFN(embed_dims, feedforward_channels, drop_rate)
        self.attn_freq_scale = FreqScale(embed_dims, **freq_scale_cfg) if freq_scale else None
        self.ffn_freq_scale = FreqScale(embed_dims, **freq_scale_cfg) if freq_scale else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        y = add_freq_scale(self.attn(self.norm1(x), hw_shape), self.attn_freq_scale, hw_shape)
        x = x + self.drop_path(y)
        z = add_freq_scale(self.ffn(self.norm2(x), hw_shape), self.ffn_freq_scale, hw_shape)
        return x + self.drop_path(z)


class PatchEmbed(nn.Module):
    """Overlapping patch embedding: a strided conv (padding ``patch // 2``),
    then a LayerNorm over the tokens (mmseg's names: ``projection``, ``norm``).

    Shape:
        (B, C_in, H, W) -> tokens (B, H' * W', C) and their grid (H', W').
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int, stride: int,
                 norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride,
                                    patch_size // 2)
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.projection(x)
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


@MODELS.register_module()
class FDAMMiT(BaseModule):
    """SegFormer's Mix Transformer encoder with FDAM: AttInv in every
    efficient attention, FreqScale after every attention and Mix-FFN.

    With ``att_inv=False`` and ``freq_scale=False`` it is mmseg's
    ``MixVisionTransformer`` with the same parameter names, initialisation
    and outputs. Stage i returns (B, C_i, H_i, W_i), H_1 = ceil(H / 4) and
    each later stage half the previous (rounded up).

    It takes mmseg's ``MixVisionTransformer`` arguments with their meaning
    and defaults, so an mmseg call or config switches to it by its ``type``
    alone; ``arch`` may name the layout instead. Differences: the norms are
    LayerNorms and the activation GELU (``norm_cfg`` / ``act_cfg`` take only
    those), negative ``out_indices`` count from the end, and there are
    ``frozen_stages`` and ``patch_sr_norm_eps``.

    Args:
        arch (str | dict, optional): 'b0' ... 'b5' (mmseg's SegFormer
            configs) or a dict of ``embed_dims`` (channels per head; stage i
            has ``embed_dims * num_heads[i]`` channels), ``num_layers`` and
            ``num_heads`` (one entry per stage). None: mmseg's layout arguments.
        in_channels, embed_dims, num_layers, num_heads, patch_sizes, strides,
        sr_ratios, out_indices, mlp_ratio, qkv_bias, drop_rate,
        attn_drop_rate, drop_path_rate, with_cp, pretrained, init_cfg:
            mmseg's, with its defaults (embed_dims 64, num_layers
            [3, 4, 6, 3], num_heads [1, 2, 4, 8]) where ``arch`` is None.
        num_stages (int, optional): Checked against ``num_layers`` if given.
        act_cfg (dict): Only ``dict(type='GELU')``.
        norm_cfg (dict): Only ``dict(type='LN', eps=1e-6)``.
        patch_sr_norm_eps (float): Epsilon of the patch-embedding and
            spatial-reduction LayerNorms. Defaults to 1e-6 (mmseg's); the
            NVlabs release, which trained the ``mit_b*.pth`` files, used 1e-5.
        att_inv (bool): AttInv in every attention. Defaults to True.
        freq_scale (bool): FreqScale after every attention and Mix-FFN. Defaults to True.
        freq_scale_cfg (dict): Arguments of the FreqScales. Defaults to
            FDAM's trained ones, as FDAMDeiT3.
        highpass_values (str): AttInv's values where sr_ratio > 1: 'query'
            (default) or 'upsampled'; see :class:`EfficientAttention`.
        frozen_stages (int): -1 freezes nothing, 0 the first patch embedding,
            k the first k stages. Defaults to -1.

    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads the NVlabs
    release, mmseg's converted ``mit_b*.pth``, mmseg SegFormer models or
    mmfreq files, strictly; FDAM parameters absent from the file start fresh
    and are logged.
    """

    arch_zoo = {
        'b0': dict(embed_dims=32, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8]),
        'b1': dict(embed_dims=64, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8]),
        'b2': dict(embed_dims=64, num_layers=[3, 4, 6, 3], num_heads=[1, 2, 5, 8]),
        'b3': dict(embed_dims=64, num_layers=[3, 4, 18, 3], num_heads=[1, 2, 5, 8]),
        'b4': dict(embed_dims=64, num_layers=[3, 8, 27, 3], num_heads=[1, 2, 5, 8]),
        'b5': dict(embed_dims=64, num_layers=[3, 6, 40, 3], num_heads=[1, 2, 5, 8]),
    }
    # mmseg's MixVisionTransformer defaults of the layout arguments
    mmseg_layout = dict(embed_dims=64, num_layers=[3, 4, 6, 3], num_heads=[1, 2, 4, 8])

    def __init__(self, arch: Optional[Union[str, dict]] = None, in_channels: int = 3,
                 embed_dims: Optional[int] = None, num_stages: Optional[int] = None,
                 num_layers: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 patch_sizes: Sequence[int] = (7, 3, 3, 3),
                 strides: Sequence[int] = (4, 2, 2, 2),
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 mlp_ratio: int = 4, qkv_bias: bool = True, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 att_inv: bool = True, freq_scale: bool = True,
                 freq_scale_cfg: dict = dict(), highpass_values: str = 'query',
                 frozen_stages: int = -1, with_cp: bool = False,
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN', eps=1e-6), patch_sr_norm_eps: float = 1e-6,
                 init_cfg: Optional[dict] = None, pretrained: Optional[str] = None) -> None:
        super().__init__(init_cfg=init_cfg_with_pretrained(pretrained, init_cfg, 'FDAMMiT'))
        layout = dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads)
        given = {k: v for k, v in layout.items() if v is not None}
        if arch is not None and given:
            raise InvalidArgumentError(f'FDAMMiT: give arch={arch!r} or mmseg\'s layout '
                                       f'arguments {given}, not both')
        arch = self._arch_settings({**self.mmseg_layout, **given} if arch is None else arch)
        num_layers, num_heads = arch['num_layers'], arch['num_heads']
        if num_stages not in (None, len(num_layers)):
            raise InvalidArgumentError(f'FDAMMiT: num_stages={num_stages}, but num_layers has '
                                       f'{len(num_layers)} entries')
        num_stages = len(num_layers)
        for name, value, allowed in (('act_cfg', act_cfg, dict(type='GELU')),
                                     ('norm_cfg', norm_cfg, dict(type='LN', eps=1e-6))):
            if {k: v for k, v in value.items() if k != 'requires_grad'} != allowed:
                raise InvalidArgumentError(
                    f'FDAMMiT: {name}={value}; only {allowed} (mmseg\'s default) is built; '
                    'patch_sr_norm_eps=1e-5 gives the NVlabs release\'s patch-embedding and '
                    'spatial-reduction norms')
        per_stage = dict(patch_sizes=patch_sizes, strides=strides, sr_ratios=sr_ratios)
        for name, values in per_stage.items():
            if len(values) != num_stages:
                raise InvalidArgumentError(f'FDAMMiT: {name}={list(values)} needs one entry '
                                           f'per stage ({num_stages})')
        self.in_channels = in_channels
        self.out_indices = stage_indices(out_indices, num_stages, 'FDAMMiT')
        self.frozen_stages = check_frozen_stages(frozen_stages, num_stages, 'FDAMMiT')
        rates = torch.linspace(0, drop_path_rate, sum(num_layers)).tolist()
        self.layers = nn.ModuleList()
        for i, depth in enumerate(num_layers):
            dims = arch['embed_dims'] * num_heads[i]
            # built in mmseg's order, so that a seed gives mmseg's initial weights
            patch_embed = PatchEmbed(in_channels, dims, patch_sizes[i], strides[i],
                                     patch_sr_norm_eps)
            blocks = nn.ModuleList(
                FDAMMiTBlock(dims, num_heads[i], mlp_ratio * dims, sr_ratios[i],
                             qkv_bias=qkv_bias, drop_rate=drop_rate,
                             attn_drop_rate=attn_drop_rate,
                             drop_path=rates[sum(num_layers[:i]) + j], att_inv=att_inv,
                             freq_scale=freq_scale, freq_scale_cfg=freq_scale_cfg,
                             highpass_values=highpass_values, with_cp=with_cp,
                             sr_norm_eps=patch_sr_norm_eps)
                for j in range(depth))
            self.layers.append(nn.ModuleList([patch_embed, blocks, nn.LayerNorm(dims, eps=1e-6)]))
            in_channels = dims
        self._freeze_stages()

    @classmethod
    def _arch_settings(cls, arch: Union[str, dict]) -> dict:
        if not isinstance(arch, dict):
            return arch_from_zoo(arch, cls.arch_zoo, 'FDAMMiT')
        keys = {'embed_dims', 'num_layers', 'num_heads'}
        if set(arch) != keys or len(arch['num_layers']) != len(arch['num_heads']):
            raise InvalidArgumentError(
                f'FDAMMiT: the layout needs exactly {sorted(keys)}, num_layers and num_heads '
                f'with one entry per stage; got {arch}')
        return arch

    def weight_formats(self) -> Tuple[WeightFormat, ...]:
        """The namings of Mix Transformer weights that ``init_cfg=dict(type='Pretrained')``
        reads; FDAM parameters absent from a file start fresh."""
        return (
            WeightFormat("mmseg's MixVisionTransformer (mit2mmseg.py) or mmfreq FDAMMiT",
                         markers=('layers.0.1.0.attn.attn.in_proj_weight', ),
                         may_be_new=FDAM_KEYS),
            WeightFormat('official SegFormer release (NVlabs/SegFormer mit_b*.pth)',
                         markers=('patch_embed1.proj.weight', 'block1.0.attn.kv.weight'),
                         convert=convert_mit_state_dict, may_be_new=FDAM_KEYS,
                         may_be_dropped=('head.*', )),
        )

    def init_weights(self) -> None:
        if init_from_cfg(self, super().init_weights):
            return
        # mmseg's (and NVlabs') initialisation, with mmengine's initialisers as
        # mmseg calls them; the in_proj weights keep nn.MultiheadAttention's
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=0.02, bias=0.0)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, val=1.0, bias=0.0)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                normal_init(m, mean=0, std=(2.0 / fan_out) ** 0.5, bias=0.0)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        check_image_batch(x, self.in_channels, 'FDAMMiT')
        outs = []
        for i, (patch_embed, blocks, norm) in enumerate(self.layers):
            x, hw_shape = patch_embed(x)
            for block in blocks:
                x = block(x, hw_shape)
            x = norm(x).transpose(1, 2).reshape(x.shape[0], -1, *hw_shape).contiguous()
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        freeze([self.layers[0][0], *self.layers[:self.frozen_stages]])

    def train(self, mode: bool = True) -> 'FDAMMiT':
        super().train(mode)
        self._freeze_stages()
        return self


def convert_mit_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an NVlabs SegFormer state dict (``patch_embed{i}``, ``block{i}.{j}``,
    ``norm{i}``) onto mmseg's / FDAMMiT's names.

    ``attn.q`` and ``attn.kv`` become ``attn.attn.in_proj_*`` (query rows, then
    key and value), ``attn.proj`` ``attn.attn.out_proj``; the Mix-FFN's linear
    ``fc1`` / ``fc2`` become 1x1 convs. Other keys (``head.*``, anything
    unknown) pass through, for the strict check to drop or name.
    """
    converted = {}
    for key, value in state_dict.items():
        if match := re.match(r'patch_embed(\d+)\.proj\.(.*)', key):
            key = f'layers.{int(match[1]) - 1}.0.projection.{match[2]}'
        elif match := re.match(r'patch_embed(\d+)\.norm\.(.*)', key):
            key = f'layers.{int(match[1]) - 1}.0.norm.{match[2]}'
        elif match := re.match(r'norm(\d+)\.(.*)', key):
            key = f'layers.{int(match[1]) - 1}.2.{match[2]}'
        elif match := re.match(r'block(\d+)\.(\d+)\.(.*)', key):
            block = f'layers.{int(match[1]) - 1}.1.{match[2]}.'
            key, value = _convert_block_key(state_dict, key, match[3], value)
            if key is None:  # an attn.kv tensor, joined to its attn.q
                continue
            key = block + key
        converted[key] = value
    return converted


_FFN_LAYERS = {'fc1': '0', 'dwconv.dwconv': '1', 'fc2': '4'}


def _convert_block_key(state_dict: Dict[str, torch.Tensor], key: str, name: str,
                       value: torch.Tensor) -> Tuple[Optional[str], torch.Tensor]:
    """``(name in the block, tensor)`` of one NVlabs block tensor; the name is
    None for an ``attn.kv`` tensor that ``attn.q``'s entry carries."""
    if match := re.fullmatch(r'attn\.(q|kv)\.(weight|bias)', name):
        partner = key.replace(f'attn.{match[1]}.', 'attn.kv.' if match[1] == 'q' else 'attn.q.')
        if partner not in state_dict:  # left as it is: the strict check names it
            return name, value
        if match[1] == 'kv':
            return None, value
        return f'attn.attn.in_proj_{match[2]}', torch.cat([value, state_dict[partner]])
    if name.startswith('attn.proj.'):
        return 'attn.attn.out_proj.' + name[len('attn.proj.'):], value
    if match := re.fullmatch(r'mlp\.(fc1|dwconv\.dwconv|fc2)\.(weight|bias)', name):
        if match[1] != 'dwconv.dwconv' and match[2] == 'weight':
            value = value[:, :, None, None]
        return f'ffn.layers.{_FFN_LAYERS[match[1]]}.{match[2]}', value
    return name, value
