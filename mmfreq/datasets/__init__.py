"""Small built-in datasets. ``synthetic_scenes`` (the generator) needs only
numpy and Pillow; the dataset classes import the host library they extend."""
from .synthetic_ade import SyntheticADE20KDataset

__all__ = ['SyntheticADE20KDataset']
