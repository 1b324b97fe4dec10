from .safe_unpickling import (
    CheckpointNotFoundError,
    UnsafeCheckpointError,
    disable_safe_checkpoint_loading,
    enable_safe_checkpoint_loading,
    load_from_local_safely,
    safe_checkpoint_loading,
)
from .weights import (
    CheckpointDownloadError,
    CheckpointError,
    WeightFormat,
    convert_checkpoint_file,
    dataset_meta_of,
    init_from_cfg,
    load_model_weights,
    load_pretrained_weights,
    save_weights,
)

__all__ = ['CheckpointDownloadError', 'CheckpointError', 'CheckpointNotFoundError',
           'UnsafeCheckpointError', 'WeightFormat', 'convert_checkpoint_file',
           'dataset_meta_of', 'disable_safe_checkpoint_loading', 'enable_safe_checkpoint_loading',
           'init_from_cfg', 'load_from_local_safely', 'load_model_weights',
           'load_pretrained_weights', 'safe_checkpoint_loading', 'save_weights']
