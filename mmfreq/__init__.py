"""mmfreq: attention backbones for OpenMMLab dense prediction.

Importing mmfreq (or ``mmfreq.models``) registers modules and changes nothing
outside mmfreq. mmfreq's safe checkpoint loader for mmengine is opt-in:
``import mmfreq.safe_loading`` (what mmfreq's configs and tools do).
"""
from .version import __version__

__all__ = ['__version__']
