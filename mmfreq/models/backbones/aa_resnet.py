"""Attention Augmented ResNet (Bello et al., ICCV 2019). ResNet's key names
stay (``layer3.2.conv2.conv.weight`` holds the conv filters), so plain ResNet
weights load into the convolutional part.
"""
from typing import Dict, Sequence, Tuple, Union

import torch
from mmpretrain.models.backbones import ResNet

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from ..arguments import check_frozen_stages, stage_indices
from ..layers import AAConv2d


def channels_for_heads(ratio: float, channels: int, num_heads: int) -> int:
    """``ratio * channels`` rounded to a multiple of ``num_heads`` (at least one
    per head), as the paper's ratios give fractional widths on ResNet's."""
    return max(num_heads, round(ratio * channels / num_heads) * num_heads)


@MODELS.register_module()
class AAResNet(ResNet):
    """mmpretrain's ResNet whose chosen stages' bottleneck 3x3 convs are AAConv2d.

    d_k and d_v are rounded to multiples of ``num_heads`` (ResNet-50: 24/16,
    48/24, 104/48 in stages 2-4); the paper's counts: docs/model_zoo.md. Unlike
    ResNet's, ``norm_eval`` leaves the BatchNorm after each augmented conv
    training (docs/backbones.md, "AA-ResNet").

    Args:
        depth (int): A bottleneck depth: 50, 101 or 152.
        stage_with_aa (Sequence[bool]): The augmented stages. Defaults to the
            last three ((HW)^2 attention at 1/4 resolution costs most).
        key_ratio (float): k = d_k / F_out before rounding. Defaults to 0.2.
        value_ratio (float): v = d_v / F_out before rounding. Defaults to 0.1.
        num_heads (int): N_h. Defaults to 8.
        max_offset (int): Offsets with their own embedding. Defaults to 64.
        out_indices (int | Sequence[int]): Stages to output. Defaults to all.
        frozen_stages (int): -1 none, 0 the stem, k the stem and k stages.
            Defaults to -1.
        **kwargs: mmpretrain's other ResNet arguments (``norm_eval``,
            ``with_cp``, ``init_cfg`` ...). A ``Pretrained`` init_cfg loads
            plain ResNet weights (torchvision, timm, mmpretrain, mmdet) or
            mmfreq's strictly: an augmented conv2 keeps the first F_out - d_v
            filters, and the new attention weights are logged.

    Shape:
        (B, 3, H, W) -> stage i: (B, 256 * 2**i, ceil(H / 2**(i+2)), ceil(W / 2**(i+2))).
    """

    attention_keys = ('*.conv2.qkv.*', '*.conv2.proj.*', '*.conv2.rel_table_*')
    classification_keys = ('fc.*', 'head.*')

    def __init__(self, depth: int, stage_with_aa: Sequence[bool] = (False, True, True, True),
                 key_ratio: float = 0.2, value_ratio: float = 0.1, num_heads: int = 8,
                 max_offset: int = 64, out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1, **kwargs) -> None:
        if depth not in (50, 101, 152):
            raise ValueError(f'AAResNet: depth={depth} is not a bottleneck ResNet; '
                             'choose 50, 101 or 152')
        num_stages = kwargs.get('num_stages', 4)
        out_indices = stage_indices(out_indices, num_stages, 'AAResNet')
        check_frozen_stages(frozen_stages, num_stages, 'AAResNet')
        super().__init__(depth, out_indices=out_indices, frozen_stages=frozen_stages, **kwargs)
        if len(stage_with_aa) != self.num_stages:
            raise ValueError(f'AAResNet: stage_with_aa={tuple(stage_with_aa)} needs one entry '
                             f'per stage ({self.num_stages})')
        self.stage_with_aa = tuple(stage_with_aa)
        for stage, (name, augment) in enumerate(zip(self.res_layers, stage_with_aa)):
            if not augment:
                continue
            for block in getattr(self, name):
                conv = block.conv2
                if conv.dilation != (1, 1):
                    raise ValueError(f'AAResNet: stage {stage + 1} is dilated '
                                     f'({conv.dilation}); AAConv2d has no dilation')
                width = conv.out_channels
                block.conv2 = AAConv2d(
                    conv.in_channels, width, 3, conv.stride[0],
                    key_ratio=channels_for_heads(key_ratio, width, num_heads) / width,
                    value_ratio=channels_for_heads(value_ratio, width, num_heads) / width,
                    num_heads=num_heads, max_offset=max_offset)
        self._freeze_stages()  # freezing ran in ResNet.__init__, before the swap

    def train(self, mode: bool = True) -> 'AAResNet':
        """Train mode; under ``norm_eval`` the ``norm2`` after each augmented
        conv outside frozen stages trains all the same."""
        super().train(mode)  # mmpretrain's ResNet.train returns None
        if mode and self.norm_eval:
            for stage, name in enumerate(self.res_layers):
                if self.stage_with_aa[stage] and stage >= self.frozen_stages:
                    for block in getattr(self, name):
                        block.norm2.train()
        return self

    def augmented_convs(self) -> Dict[str, AAConv2d]:
        """``{'layer2.0.conv2': AAConv2d, ...}`` for every augmented conv."""
        return {name: m for name, m in self.named_modules() if isinstance(m, AAConv2d)}

    def convert_resnet_state_dict(self, state_dict: Dict[str, torch.Tensor]
                                  ) -> Dict[str, torch.Tensor]:
        """Fit a plain ResNet state dict: augmented 3x3 convs keep their first filters."""
        converted = dict(state_dict)
        for name, conv in self.augmented_convs().items():
            weight = converted.pop(f'{name}.weight', None)
            if weight is not None and conv.conv is not None:
                converted[f'{name}.conv.weight'] = weight[:conv.conv.out_channels]
        return converted

    def weight_formats(self) -> Tuple[WeightFormat, ...]:
        """The namings of ResNet weights that ``init_cfg=dict(type='Pretrained')`` reads."""
        return (
            WeightFormat('mmfreq AAResNet', markers=('layer*.conv2.qkv.weight', ),
                         may_be_dropped=self.classification_keys),
            WeightFormat('plain ResNet (torchvision, timm, mmpretrain)',
                         markers=('layer1.0.conv1.weight', ),
                         convert=self.convert_resnet_state_dict,
                         may_be_new=self.attention_keys,
                         may_be_dropped=self.classification_keys),
        )

    def init_weights(self) -> None:
        # mmpretrain's ResNet applies init_cfg and zero-initialises the residual
        # norms, with or without an init_cfg
        if not init_from_cfg(self, super().init_weights):
            super().init_weights()
