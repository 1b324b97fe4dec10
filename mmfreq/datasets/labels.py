"""The rules a segmentation label map must satisfy to train, shared by the
dataset doctor (on stored files) and :class:`~mmfreq.datasets.transforms.CheckedPipeline`
(on loaded samples)."""
import os.path as osp
import tempfile
from typing import Dict, Optional, Sequence

import numpy as np
from PIL import Image


def label_shape_problem(label_shape: Sequence[int], image_shape: Optional[Sequence[int]],
                        image_path: Optional[str]) -> Optional[str]:
    """What is wrong with a label map's shape, or None.

    A label must be one channel of class indices, as large as its image.

    Args:
        label_shape (Sequence[int]): The label array's shape.
        image_shape (Sequence[int], optional): The image's (height, width, ...), if known.
        image_path (str, optional): The image, named in the message.

    Returns:
        str | None: The problem in words.
    """
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
    """Which training targets are neither a class index nor the ignored value.

    Args:
        targets (np.ndarray): Label values as the loss sees them.
        num_classes (int): The dataset's class count.
        ignore_index (int): The value the loss ignores.

    Returns:
        np.ndarray: A boolean mask of ``targets``.
    """
    return ((targets < 0) | (targets >= num_classes)) & (targets != ignore_index)


def target_table(reduce_zero_label: bool, label_map: Optional[Dict[int, int]]) -> np.ndarray:
    """The training target of every stored 8-bit label value, computed by
    mmseg's own ``LoadAnnotations`` on a label holding each value once.

    Args:
        reduce_zero_label (bool): The dataset's ``reduce_zero_label``.
        label_map (dict, optional): The dataset's class remapping (from a
            ``classes`` override), old index -> new.

    Returns:
        np.ndarray: 256 targets, indexed by stored value.
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
