"""Attention Augmented ResNet (Bello et al., "Attention Augmented
Convolutional Networks", ICCV 2019).

The network is mmpretrain's ResNet with the 3x3 conv of every bottleneck in
the augmented stages replaced by an :class:`AAConv2d`. All ResNet key names
stay (``layer3.2.conv2.conv.weight`` holds the convolutional filters), so
plain ResNet ImageNet weights load into the convolutional part.
"""
from typing import Dict, Sequence, Tuple, Union

import torch
from mmpretrain.models.backbones import ResNet

from mmfreq.registry import MODELS
from mmfreq.utils.weights import WeightFormat, init_from_cfg

from ..layers import AAConv2d
from .arguments import check_frozen_stages, stage_indices


def channels_for_heads(ratio: float, channels: int, num_heads: int) -> int:
    """``ratio * channels`` rounded to the nearest multiple of ``num_heads`` (>= one per head).

    The paper's k = 0.2, v = 0.1 give fractional widths on ResNet's 64...512
    (e.g. d_k = 25.6 for 128 channels); each head needs a whole, equal share.
    """
    return max(num_heads, round(ratio * channels / num_heads) * num_heads)


@MODELS.register_module()
class AAResNet(ResNet):
    """ResNet whose bottleneck 3x3 convs are attention-augmented in chosen stages.

    Args:
        depth (int): 50 or 101 (any bottleneck depth of ResNet: 50, 101, 152).
        stage_with_aa (Sequence[bool]): Which of the four stages are augmented.
            Defaults to the last three: full attention at 1/4 resolution costs
            (HW)^2 memory (0.25 G logits per head at 512x512).
        key_ratio (float): k = d_k / F_out before rounding. Defaults to 0.2.
        value_ratio (float): v = d_v / F_out before rounding. Defaults to 0.1.
        num_heads (int): N_h. Defaults to 8.
        max_offset (int): Relative offsets with their own embedding. Defaults to 64.
        out_indices (int | Sequence[int]): Stages to output, negative from the
            end. Defaults to all four.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and
            the first k stages (mmpretrain's ResNet convention, shared by all
            mmfreq backbones). Defaults to -1.
        **kwargs: The rest of mmpretrain's ResNet arguments (``norm_eval``,
            ``norm_cfg``, ``deep_stem``, ``with_cp``, ``drop_path_rate``,
            ``init_cfg`` ...). ``init_cfg=dict(type='Pretrained', checkpoint=
            PATH or URL[, prefix=...])`` loads plain ResNet weights
            (torchvision, timm, mmpretrain, mmdet) or mmfreq's, strictly: each
            augmented conv2 keeps the first ``F_out - d_v`` filters of a plain
            ResNet, and the attention weights, new, are listed in the log.

    d_k and d_v are rounded to multiples of ``num_heads``
    (:func:`channels_for_heads`): ResNet-50 with the defaults has d_k / d_v =
    24 / 16, 48 / 24, 104 / 48 in stages 2, 3, 4.

    Against the AA paper (arXiv 1904.09925, Table 2: AA-ResNet-50 25.8M
    parameters, 8.3 GFLOPs counted as 2 x multiply-adds; ResNet-50 25.6M,
    8.2): with a 1000-class fc at 224 this model has 4.167 G multiply-adds
    (8.33 "GFLOPs"; ResNet-50 4.111, 8.22) and 25.13M parameters (ResNet-50
    25.56M). The FLOPs single out stages 2-4: augmenting stage 1 as well
    gives 9.78. The parameters cannot reach 25.8M by augmenting 3x3 convs:
    the paper's own count of an augmented conv's parameter change,
    F_in F_out (2k + (1 - 3^2) v + v^2 F_out / F_in), is negative for
    k = 2v = 0.2, and the paper does not say what else its model adds.
    ``configs/aa_r50_in1k.py`` builds this classifier (docs/model_zoo.md).

    Shape:
        (B, 3, H, W) -> stage i: (B, 256 * 2**i, H / 2**(i + 2), W / 2**(i + 2))
        (rounded up, as the plain ResNet).
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
        """Train mode; under ``norm_eval`` the BatchNorm after each augmented conv
        (``norm2`` of the block, outside frozen stages) trains all the same.

        ``norm_eval`` keeps ImageNet statistics because a detection batch of
        two images estimates them badly. The attention channels of an
        augmented conv have no ImageNet statistics: their running mean and
        variance would be those of the conv filters that the attention
        replaced (or 0 / 1 from scratch), so frozen they normalise a
        distribution they were never measured on. Training that one BN per
        block estimates them (and re-estimates its conv channels with them,
        one BN over the concatenated output); every other BN stays frozen.
        """
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
