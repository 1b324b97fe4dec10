"""Boundary IoU for semantic segmentation (Cheng et al., CVPR 2021), as an mmengine metric."""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from mmfreq.registry import METRICS


def boundary_width(height: int, width: int, dilation_ratio: float = 0.02) -> int:
    """d = max(1, round(dilation_ratio * image diagonal)), Python's rounding."""
    return max(1, round(dilation_ratio * float(np.hypot(height, width))))


def label_boundaries(labels: np.ndarray, d: int) -> np.ndarray:
    """(H, W) bool: where a pixel of label c lies on the boundary of
    ``labels == c`` (the mask minus its erosion by d 3 x 3 steps after a
    one-pixel zero pad), i.e. where the (2d+1)-square around it holds another
    label or reaches past the image. For every label at once, from one max and
    one min filter (OpenCV's leave out the part of the square outside the image).
    """
    h, w = labels.shape
    x = labels.astype(np.float32)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * d + 1, 2 * d + 1))
    on = cv2.dilate(x, square) != cv2.erode(x, square)
    on[:d], on[h - d:], on[:, :d], on[:, w - d:] = True, True, True, True
    return on


def boundary_intersect_and_union(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                                 ignore_index: int = 255, dilation_ratio: float = 0.02
                                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class boundary intersection and union of one image, in pixels:
    two (num_classes,) int64 arrays from (H, W) label maps ``pred`` and
    ``gt``. The boundaries of ``pred == c`` and ``gt == c`` are taken on the
    full image, then pixels whose ground truth is ``ignore_index`` leave both.
    """
    d = boundary_width(*gt.shape, dilation_ratio)
    valid = gt != ignore_index
    on_pred = label_boundaries(pred, d) & valid
    on_gt = label_boundaries(gt, d) & valid

    def count(values: np.ndarray) -> np.ndarray:
        return np.bincount(values.astype(np.int64), minlength=num_classes)[:num_classes]

    pred_area, gt_area = count(pred[on_pred]), count(gt[on_gt])
    intersection = count(pred[on_pred & on_gt & (pred == gt)])
    return intersection, pred_area + gt_area - intersection


@METRICS.register_module()
class BoundaryIoUMetric(BaseMetric):
    """Boundary IoU of semantic segmentation, beside mmseg's ``IoUMetric``.

    Per class c, Boundary IoU = |Bp & Bg| / |Bp | Bg| with Bp and Bg the
    boundaries of ``pred == c`` and ``gt == c`` less the ground truth's
    ignored pixels (:func:`boundary_intersect_and_union`), summed over the
    dataset. ``mBIoU`` is their mean over the classes with a non-empty union,
    in percent as mmseg's ``mIoU``; the per-class table is logged. Inputs as
    ``IoUMetric``'s: ``pred_sem_seg``, ``gt_sem_seg``, ``dataset_meta``.

    Args:
        ignore_index (int): The ground truth's label for unlabelled pixels.
        dilation_ratio (float): Boundary width over the image diagonal; 0.02
            is the paper's.
        collect_device (str): 'cpu' or 'gpu', as mmengine's ``BaseMetric``.
        prefix (str, optional): Prefix of the result key.
    """

    def __init__(self, ignore_index: int = 255, dilation_ratio: float = 0.02,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.dilation_ratio = dilation_ratio

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'][0].cpu().numpy()
            gt = sample['gt_sem_seg']['data'][0].cpu().numpy()
            self.results.append(boundary_intersect_and_union(
                pred, gt, num_classes, self.ignore_index, self.dilation_ratio))

    def compute_metrics(self, results: List[Tuple[np.ndarray, np.ndarray]]
                        ) -> Dict[str, float]:
        intersection = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        with np.errstate(invalid='ignore'):
            per_class = intersection / union  # nan where the union is empty
        table = PrettyTable()
        table.add_column('Class', list(self.dataset_meta['classes']))
        table.add_column('BIoU', np.round(per_class * 100, 2).tolist())
        logger = MMLogger.get_current_instance()
        print_log('per class boundary IoU:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        return dict(mBIoU=float(np.round(np.nanmean(per_class) * 100, 2)))
