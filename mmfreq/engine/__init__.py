from .layer_decay import LayerDecayOptimWrapperConstructor, layer_id_for_vit

__all__ = ['LayerDecayOptimWrapperConstructor', 'layer_id_for_vit']
