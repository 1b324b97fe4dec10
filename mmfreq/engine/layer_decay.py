"""Layer-wise learning-rate decay for plain ViT backbones, on top of mmengine's
default constructor so that ``custom_keys`` keep working (mmseg's
``LayerDecayOptimizerConstructor`` ignores them, and FDAM's recipe needs them)."""
from typing import List

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor

from mmfreq.registry import OPTIM_WRAPPER_CONSTRUCTORS


def layer_id_for_vit(name: str, num_layers: int) -> int:
    """0 for the embeddings, i + 1 for ``backbone.layers.i``, num_layers + 1 otherwise."""
    if name.startswith(('backbone.pos_embed', 'backbone.cls_token', 'backbone.patch_embed')):
        return 0
    if name.startswith('backbone.layers.'):
        return int(name.split('.')[2]) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scales the lr the default constructor set for each parameter by
    ``layer_decay_rate ** (num_layers + 1 - layer_id)`` (:func:`layer_id_for_vit`);
    ``paramwise_cfg`` takes ``num_layers`` and ``layer_decay_rate`` besides its keys::

        paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.95,
                           custom_keys={'freq_scale': dict(lr_mult=2.)})
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict = None) -> None:
        paramwise_cfg = paramwise_cfg or {}
        missing = [k for k in ('num_layers', 'layer_decay_rate') if k not in paramwise_cfg]
        if missing:
            raise KeyError(f'LayerDecayOptimWrapperConstructor: paramwise_cfg needs {missing}')
        # left in paramwise_cfg (the default constructor ignores unknown keys)
        self.num_layers = paramwise_cfg['num_layers']
        self.layer_decay_rate = paramwise_cfg['layer_decay_rate']
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        if kwargs:  # the default constructor recursing into submodules
            return super().add_params(params, module, **kwargs)
        first = len(params)
        super().add_params(params, module)
        names = {id(p): n for n, p in module.named_parameters()}
        for group in params[first:]:
            layer_id = layer_id_for_vit(names[id(group['params'][0])], self.num_layers)
            scale = self.layer_decay_rate ** (self.num_layers + 1 - layer_id)
            group['lr'] = group.get('lr', self.base_lr) * scale
