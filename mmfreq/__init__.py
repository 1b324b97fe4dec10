"""mmfreq: attention backbones for OpenMMLab dense prediction."""
from .utils.checkpoint import enable_safe_checkpoint_loading
from .version import __version__

# Resuming mmengine checkpoints under torch's weights_only loader needs the
# allowlist; importing mmfreq (as every mmfreq config does) turns it on.
enable_safe_checkpoint_loading()

__all__ = ['__version__']
