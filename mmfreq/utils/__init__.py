from .checkpoint import (
    UnsafeCheckpointError,
    enable_safe_checkpoint_loading,
    load_checkpoint_safely,
)

__all__ = ['UnsafeCheckpointError', 'enable_safe_checkpoint_loading', 'load_checkpoint_safely']
