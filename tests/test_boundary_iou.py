"""mmfreq.BoundaryIoUMetric against Boundary IoU computed by hand: d steps of a
3 x 3 erosion after a one-pixel zero pad, per class, ignore pixels dropped."""
import math
from unittest import mock

import numpy as np
import pytest
import torch

from mmfreq.evaluation import BoundaryIoUMetric, boundary_intersect_and_union, boundary_width
from mmfreq.evaluation.boundary_iou import label_boundaries

IGNORE = 255


def erode_3x3_steps(mask: np.ndarray, d: int) -> np.ndarray:
    """d steps of a 3 x 3 erosion after a one-pixel zero pad, by loops."""
    m = np.pad(mask, 1).tolist()
    h, w = len(m), len(m[0])
    for _ in range(d):
        m = [[all(m[yy][xx] for yy in range(y - 1, y + 2) for xx in range(x - 1, x + 2)
                  if 0 <= yy < h and 0 <= xx < w)
              for x in range(w)] for y in range(h)]
    return np.array(m, bool)[1:-1, 1:-1]


def erode_square(mask: np.ndarray, d: int) -> np.ndarray:
    """One erosion by a (2d+1) x (2d+1) square after a one-pixel zero pad, by loops."""
    m = np.pad(mask, 1)
    h, w = m.shape
    out = np.zeros_like(m)
    for y in range(h):
        for x in range(w):
            out[y, x] = m[max(0, y - d):y + d + 1, max(0, x - d):x + d + 1].all()
    return out[1:-1, 1:-1]


def hand_counts(pairs, num_classes, ratio=0.02):
    """Dataset sums of per-class boundary intersections and unions."""
    inter, union = np.zeros(num_classes, int), np.zeros(num_classes, int)
    for pred, gt in pairs:
        d = max(1, round(ratio * math.sqrt(gt.shape[0] ** 2 + gt.shape[1] ** 2)))
        valid = gt != IGNORE
        for c in range(num_classes):
            on_pred = (pred == c) & ~erode_3x3_steps(pred == c, d) & valid
            on_gt = (gt == c) & ~erode_3x3_steps(gt == c, d) & valid
            inter[c] += (on_pred & on_gt).sum()
            union[c] += (on_pred | on_gt).sum()
    return inter, union


def scene_pair(h: int, w: int, seed: int):
    """gt and pred (num_classes 5): class 1 touches the left border, class 2 is
    a one-pixel line, class 3 is only in gt, class 4 only in pred, ignore pixels
    over class 3's edge; pred shifts and grows some of them."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((h, w), np.int64)
    gt[2:h - 3, :w // 3] = 1
    gt[h // 2, w // 3 + 2:w - 2] = 2
    gt[h // 2 + 2:h - 1, w // 2:w - 3] = 3
    pred = gt.copy()
    pred[pred == 3] = 0
    pred[3:h - 2, :w // 3 + 1] = 1
    pred[h // 2 + 1, w // 3 + 2:w - 4] = 2
    pred[1:4, w - 6:w - 1] = 4
    pred[rng.random((h, w)) < 0.03] = 0
    gt[h // 2 + 1:h // 2 + 4, w // 2 - 1:w // 2 + 2] = IGNORE
    return pred, gt


def test_d_steps_of_3x3_erosion_are_one_square_erosion():
    rng = np.random.default_rng(0)
    for h, w, d in ((9, 13, 1), (15, 11, 2), (17, 21, 3)):
        mask = rng.random((h, w)) < 0.85
        mask[:, w // 2] = True  # runs into the border
        assert np.array_equal(erode_3x3_steps(mask, d), erode_square(mask, d))


def test_label_boundaries_equal_the_mask_minus_its_erosion_for_every_label():
    rng = np.random.default_rng(1)
    labels = np.zeros((19, 23), np.int64)
    labels[3:15, 4:20] = 1
    labels[8, :] = 2  # a one-pixel line across, touching both borders
    labels[rng.random(labels.shape) < 0.05] = 3
    for d in (1, 2, 3):
        got = label_boundaries(labels, d)
        expected = np.zeros_like(got)
        for c in range(4):
            expected |= (labels == c) & ~erode_3x3_steps(labels == c, d)
        assert np.array_equal(got, expected), d
        assert got[8].all()  # the line is boundary along its whole length


def test_the_border_counts_as_boundary():
    # one class everywhere: its boundary is the frame d pixels wide
    got = label_boundaries(np.zeros((9, 11), np.int64), 2)
    frame = np.ones((9, 11), bool)
    frame[2:7, 2:9] = False
    assert np.array_equal(got, frame)


@pytest.mark.parametrize('ratio', [0.02, 0.1])
def test_counts_equal_the_hand_computation(ratio):
    pairs = [scene_pair(23, 31, 0), scene_pair(17, 45, 1), scene_pair(41, 13, 2)]
    inter, union = hand_counts(pairs, 5, ratio)
    got = [boundary_intersect_and_union(p, g, 5, IGNORE, ratio) for p, g in pairs]
    assert np.array_equal(sum(i for i, _ in got), inter)
    assert np.array_equal(sum(u for _, u in got), union)
    assert inter[3] == 0 < union[3] and inter[4] == 0 < union[4]  # present on one side only
    assert 0 < inter[2] < union[2]  # pred's line: gt's row and, over part of it, the next


def test_ignore_pixels_leave_both_boundaries():
    pred, gt = scene_pair(23, 31, 0)
    gt_ignored = gt.copy()
    gt_ignored[:, :3] = IGNORE  # class 1's border-side boundary
    full = boundary_intersect_and_union(pred, gt, 5)
    cut = boundary_intersect_and_union(pred, gt_ignored, 5)
    assert cut[1][1] < full[1][1]
    assert np.array_equal(np.stack(cut), np.stack(hand_counts([(pred, gt_ignored)], 5)))


def test_boundary_width_follows_the_diagonal():
    assert boundary_width(512, 512) == 14  # round(0.02 * 724.1)
    assert boundary_width(10, 10) == 1  # never below one pixel
    assert boundary_width(300, 400, 0.05) == 25


def test_metric_in_an_evaluator_beside_iou_metric():
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope

    init_default_scope('mmseg')
    pairs = [scene_pair(23, 31, 0), scene_pair(17, 45, 1)]
    evaluator = Evaluator([dict(type='IoUMetric', iou_metrics=['mIoU']),
                           dict(type='mmfreq.BoundaryIoUMetric')])
    evaluator.dataset_meta = dict(classes=('bg', 'left', 'line', 'gt only', 'pred only'))
    for pred, gt in pairs:
        evaluator.process([dict(pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                                gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))])
    with mock.patch('mmfreq.evaluation.boundary_iou.print_log') as log:
        metrics = evaluator.evaluate(len(pairs))
    inter, union = hand_counts(pairs, 5)
    assert metrics['mBIoU'] == pytest.approx(round(100 * np.mean(inter / union), 2))
    assert 'mIoU' in metrics
    table = log.call_args_list[-1].args[0]
    assert 'pred only' in table and 'BIoU' in table


def test_classes_without_boundary_on_either_side_leave_the_mean():
    metric = BoundaryIoUMetric()
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    labels = torch.zeros(1, 20, 20, dtype=torch.long)
    labels[0, 5:15, 5:15] = 1  # class 2 nowhere
    metric.process({}, [dict(pred_sem_seg=dict(data=labels), gt_sem_seg=dict(data=labels))])
    with mock.patch('mmfreq.evaluation.boundary_iou.print_log'):
        assert metric.compute_metrics(metric.results) == dict(mBIoU=100.0)
