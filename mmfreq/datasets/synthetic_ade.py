"""The built-in synthetic scenes and detail scenes as mmseg datasets (ADE20K conventions)."""
from mmseg.datasets import BaseSegDataset

from mmfreq.registry import DATASETS

from . import detail_scenes
from .synthetic_scenes import CLASSES, PALETTE


@DATASETS.register_module()
class SyntheticADE20KDataset(BaseSegDataset):
    """Scenes written by :mod:`mmfreq.datasets.synthetic_scenes`.

    Same layout and conventions as mmseg's ``ADE20KDataset`` (``.jpg`` images,
    ``.png`` labels, label 0 ignored through ``reduce_zero_label``), with the
    six synthetic classes instead of ADE20K's 150.
    """

    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)


@DATASETS.register_module()
class SyntheticDetailDataset(SyntheticADE20KDataset):
    """The detail scenes written by :mod:`mmfreq.datasets.detail_scenes`: the
    conventions of ``SyntheticADE20KDataset`` with PNG images and the ten
    detail classes."""

    METAINFO = dict(classes=detail_scenes.CLASSES, palette=detail_scenes.PALETTE)

    def __init__(self, img_suffix: str = '.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, **kwargs)
