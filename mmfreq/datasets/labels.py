"""The rules a segmentation label map must satisfy to train, shared by the dataset
doctor (on stored files) and ``mmfreq.CheckedPipeline`` (on loaded samples)."""
import os.path as osp
import tempfile
from typing import Dict, Optional, Sequence

import numpy as np
from PIL import Image


def label_shape_problem(label_shape: Sequence[int], image_shape: Optional[Sequence[int]],
                        image_path: Optional[str]) -> Optional[str]:
    """What is wrong with a label map's shape, in words, or None: a label must be
    one channel of class indices, as large as its image (``image_shape``, (H, W,
    ...), when known; the message names ``image_path``)."""
    if len(label_shape) != 2:
        channels = f' ({label_shape[2]} channels)' if len(label_shape) == 3 else ''
        return (f'label has shape {tuple(label_shape)}{channels}: label maps must be '
                'single-channel class indices (an 8-bit grey or palette PNG), not colour '
                'images')
    if image_shape is not None and tuple(image_shape[:2]) != tuple(label_shape):
        return (f'label is {label_shape[1]}x{label_shape[0]} (WxH) but its image '
                f'{image_path} is {image_shape[1]}x{image_shape[0]}')
    return None


def invalid_targets(targets: np.ndarray, num_classes: int, ignore_index: int) -> np.ndarray:
    """A boolean mask of the ``targets`` (label values as the loss sees them) that
    are neither a class index below ``num_classes`` nor ``ignore_index``."""
    return ((targets < 0) | (targets >= num_classes)) & (targets != ignore_index)


def target_table(reduce_zero_label: bool, label_map: Optional[Dict[int, int]]) -> np.ndarray:
    """The training targets of the 256 stored 8-bit label values (indexed by value),
    computed by mmseg's own ``LoadAnnotations`` on a label holding each value once.

    Args:
        reduce_zero_label (bool): The dataset's ``reduce_zero_label``.
        label_map (dict, optional): The dataset's class remapping (a ``classes``
            override's), old index -> new.
    """
    from mmseg.datasets.transforms import LoadAnnotations

    stored = np.arange(256, dtype=np.uint8).reshape(16, 16)
    with tempfile.TemporaryDirectory() as folder:
        path = osp.join(folder, 'every_value.png')
        Image.fromarray(stored).save(path)
        loaded = LoadAnnotations()(dict(  # reads reduce_zero_label from the sample
            seg_map_path=path, reduce_zero_label=reduce_zero_label, label_map=label_map,
            seg_fields=[]))['gt_seg_map']
    table = np.empty(256, np.int64)
    table[stored.ravel()] = loaded.ravel()
    return table
