from .checkpoint import (
    UnsafeCheckpointError,
    enable_safe_checkpoint_loading,
    load_from_local_safely,
)

__all__ = ['UnsafeCheckpointError', 'enable_safe_checkpoint_loading', 'load_from_local_safely']
