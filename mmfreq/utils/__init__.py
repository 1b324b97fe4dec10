from .checkpoint import (
    UnsafeCheckpointError,
    disable_safe_checkpoint_loading,
    enable_safe_checkpoint_loading,
    load_from_local_safely,
    safe_checkpoint_loading,
)
from .model_weights import convert_model_checkpoint_file, dataset_meta_of, load_model_weights
from .weights import (
    WeightFormat,
    convert_checkpoint_file,
    init_from_pretrained,
    load_pretrained_weights,
    save_converted_checkpoint,
)

__all__ = ['UnsafeCheckpointError', 'WeightFormat', 'convert_checkpoint_file',
           'convert_model_checkpoint_file', 'dataset_meta_of', 'disable_safe_checkpoint_loading',
           'enable_safe_checkpoint_loading',
           'init_from_pretrained', 'load_from_local_safely', 'load_model_weights',
           'load_pretrained_weights', 'safe_checkpoint_loading', 'save_converted_checkpoint']
