"""FDAM's neck (ICCV 2025): ViTDet's simple pyramid from one ViT scale, with a
FreqScale per level to give back the detail transposed-conv upsampling blurs."""
import re
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mmfreq.registry import MODELS
from mmfreq.utils.weights import StateDict, WeightFormat

from ..layers import FreqScale, add_freq_scale


@MODELS.register_module()
class FDAMNeck(BaseModule):
    """Resample ViT token grids to a pyramid; optionally ``y + FreqScale(y)`` per level.

    Scale 4: deconv, norm, GELU, deconv; 2: deconv; 1: identity; 0.5: 2x2
    max-pool (ceil mode, so odd grids keep their last row and column). The
    channel count is unchanged. With ``freq_scale=False`` this is the plain
    pyramid of ViTDet / BEiT.

    Args:
        in_channels (int): Channels C of every input.
        scales (Sequence[float]): One scale per input, from {4, 2, 1, 0.5}.
            Defaults to (4, 2, 1, 0.5).
        norm_cfg (dict): Norm inside the 4x branch. Defaults to BN.
        freq_scale (bool): A FreqScale after every level. Defaults to True.
        freq_scale_cfg (dict): Arguments of the FreqScales.
        init_cfg (dict, optional): Initialisation config.

    Shape:
        inputs: len(scales) maps (B, C, h, w) -> len(scales) maps
        (B, C, scale * h, scale * w) (ceil for 0.5).
    """

    def __init__(self, in_channels: int, scales: Sequence[float] = (4, 2, 1, 0.5),
                 norm_cfg: dict = dict(type='BN'), freq_scale: bool = True,
                 freq_scale_cfg: dict = dict(), init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.scales = list(scales)
        self.resamplers = nn.ModuleList(self._resampler(s, in_channels, norm_cfg) for s in scales)
        self.freq_scales = nn.ModuleList(
            FreqScale(in_channels, **freq_scale_cfg) for _ in scales) if freq_scale else None

    def weight_formats(self) -> Tuple[WeightFormat, ...]:
        """The namings of this neck's weights in a whole-model checkpoint."""
        return (
            WeightFormat('mmfreq FDAMNeck', markers=('resamplers.*', )),
            WeightFormat('official SimpleMultiLevelNeck (Linwei-Chen/FDAM, FDAM_mmseg)',
                         markers=('fpn1.0.weight', ), convert=convert_simple_multilevel_neck),
        )

    @staticmethod
    def _resampler(scale: float, channels: int, norm_cfg: dict) -> nn.Module:
        if scale == 4:
            return nn.Sequential(
                nn.ConvTranspose2d(channels, channels, 2, 2),
                build_norm_layer(norm_cfg, channels)[1], nn.GELU(),
                nn.ConvTranspose2d(channels, channels, 2, 2))
        if scale == 2:
            return nn.ConvTranspose2d(channels, channels, 2, 2)
        if scale == 1:
            return nn.Identity()
        if scale == 0.5:
            return nn.MaxPool2d(2, 2, ceil_mode=True)
        raise ValueError(f'FDAMNeck: scale {scale} is not one of 4, 2, 1, 0.5')

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.scales):
            raise ValueError(f'FDAMNeck: got {len(inputs)} inputs for scales {self.scales}; '
                             'give the backbone one out_index per scale')
        freq_scales = self.freq_scales or [None] * len(self.scales)
        return tuple(
            add_freq_scale(resample(x).permute(0, 2, 3, 1), freq_scale).permute(0, 3, 1, 2)
            for x, resample, freq_scale in zip(inputs, self.resamplers, freq_scales))


def convert_simple_multilevel_neck(state: StateDict) -> StateDict:
    """Official FDAM ``SimpleMultiLevelNeck`` onto :class:`FDAMNeck`: ``fpn1`` is
    ``resamplers.0``, ``fpn2.0`` (a deconv in a Sequential) is ``resamplers.1``;
    ``fpn3`` / ``fpn4`` hold no parameters."""
    converted = {}
    for key, value in state.items():
        key = re.sub(r'^fpn2\.0\.', 'resamplers.1.', key)
        converted[re.sub(r'^fpn1\.', 'resamplers.0.', key)] = value
    return converted
