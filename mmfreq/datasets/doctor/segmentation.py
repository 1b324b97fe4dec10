"""Segmentation folders (mmseg's ``BaseSegDataset`` family: ADE20K and the
built-in scenes), checked the way mmseg reads them: images the suffix rules
skip, images without labels and labels without images, empty or undecodable
files, and every label against :mod:`mmfreq.datasets.labels` (one channel,
its image's size, values that are classes after ``reduce_zero_label`` and
the class remapping)."""
import os.path as osp
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..labels import invalid_targets, label_shape_problem, target_table
from .files import IMAGE_EXTENSIONS, decode_image, decode_label, list_files, map_checked
from .findings import DatasetReport, Finding


@dataclass
class SegLabelRules:
    """How mmseg turns stored label values into training targets.

    Args:
        num_classes (int): The dataset's class count.
        reduce_zero_label (bool): 0 becomes ``ignore_index`` and every other
            value drops by one.
        label_map (dict, optional): Old class index -> new one (from a
            ``classes`` override).
        ignore_index (int): The value the loss ignores.
    """

    num_classes: int
    reduce_zero_label: bool
    label_map: Optional[Dict[int, int]]
    ignore_index: int

    def target_table(self) -> np.ndarray:
        """Target of each stored uint8 value, as mmseg's ``LoadAnnotations`` maps it."""
        return target_table(self.reduce_zero_label, self.label_map)

    def describe_valid(self, table: np.ndarray) -> str:
        """The stored values that are valid, in words.

        Args:
            table (np.ndarray): :meth:`target_table`.
        """
        values = np.arange(256)
        valid = values[(table >= 0) & (table < self.num_classes)].tolist()
        ignored = values[table == self.ignore_index].tolist()
        zero = ' with reduce_zero_label' if self.reduce_zero_label else ''
        return (f'valid stored values{zero} are {_ranges(valid)} for the '
                f'{self.num_classes} classes and {_ranges(ignored)} (ignored)')


def _ranges(values: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``'1..3, 7'``."""
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f'{start}..{v}')
            start = None
    return ', '.join(parts) or 'none'


def check_seg_pair(img_path: str, label_path: Optional[str], rules: SegLabelRules,
                   table: np.ndarray) -> Tuple[List[Finding], np.ndarray]:
    """Decode one image and its label; return the findings and the pixel
    count of each class (zeros when the label is unusable).

    Args:
        img_path (str): The image file.
        label_path (str, optional): Its label file, or None for an unlabelled dataset.
        rules (SegLabelRules): The dataset's label conventions.
        table (np.ndarray): ``rules.target_table()``, computed once per dataset.
    """
    counts = np.zeros(rules.num_classes, np.int64)
    findings = []
    image, finding = decode_image(img_path)
    if finding is not None:
        findings.append(finding)
    if label_path is None:
        return findings, counts
    label, finding = decode_label(label_path)
    if finding is not None:
        return findings + [finding], counts
    if label.ndim == 3 and label.shape[2] == 1:
        label = label[..., 0]
    problem = label_shape_problem(label.shape, None if image is None else image.shape,
                                  img_path)
    if problem is not None:
        findings.append(Finding(label_path, problem))
        if label.ndim != 2:
            return findings, counts
    if label.dtype == np.uint8:  # the usual case, where bincount is much faster than unique
        histogram = np.bincount(label.ravel(), minlength=256)
        values = np.flatnonzero(histogram)
        pixels = histogram[values]
    else:
        values, pixels = np.unique(label, return_counts=True)
    if values.max() > 255:
        findings.append(Finding(label_path, (
            f'label values {_ranges(values[values > 255].tolist())} do not fit 8 bits: '
            'mmseg casts labels to uint8, which wraps them onto other classes')))
        keep = values <= 255
        values, pixels = values[keep], pixels[keep]
    targets = table[values.astype(np.int64)]
    bad = invalid_targets(targets, rules.num_classes, rules.ignore_index)
    if bad.any():
        findings.append(Finding(label_path, (
            f'label values {values[bad].tolist()} are not classes: '
            f'{rules.describe_valid(table)}')))
    good = (targets >= 0) & (targets < rules.num_classes)
    np.add.at(counts, targets[good], pixels[good])
    return findings, counts


def _split_by_suffix(folder: str, suffix: str, what: str, suffix_key: str
                     ) -> Tuple[List[str], List[Finding]]:
    """The files of ``folder`` the dataset reads (ending in ``suffix``), and a
    finding for each image file it skips."""
    read, findings = [], []
    for name in list_files(folder):
        if name.endswith(suffix):
            read.append(name)
        elif name.lower().endswith(IMAGE_EXTENSIONS):
            findings.append(Finding(osp.join(folder, name), (
                f'never read: the dataset reads only {what} ending in {suffix!r} '
                f'({suffix_key}); convert the file or set {suffix_key}')))
    if not read:
        findings.append(Finding(folder, (
            f'no {what} ending in {suffix!r} ({suffix_key}) in this folder '
            f'({len(findings)} other image files)')))
    return read, findings


def _listed_images(ann_file: str, img_dir: str, img_suffix: str
                   ) -> Tuple[List[str], List[Finding]]:
    """The images a split file (one name per line) lists that exist, and a
    finding for each that does not."""
    with open(ann_file) as f:
        names = [line.strip() + img_suffix for line in f if line.strip()]
    images, findings = [], []
    for name in names:
        if osp.isfile(osp.join(img_dir, name)):
            images.append(name)
        else:
            findings.append(Finding(osp.join(img_dir, name),
                                    f'listed in {ann_file} but does not exist'))
    return images, findings


def _pair_labels(images: List[str], img_dir: str, img_suffix: str, seg_dir: str,
                 seg_suffix: str) -> Tuple[List[Tuple[str, str]], List[Finding]]:
    """(image, label) paths of the images that have a label, and a finding for
    each image without one, each label without an image and each skipped label file."""
    labels, findings = _split_by_suffix(seg_dir, seg_suffix, 'labels', 'seg_map_suffix')
    stems = {name[:-len(img_suffix)] for name in images}
    label_set = set(labels)
    pairs = []
    for name in images:
        label = name[:-len(img_suffix)] + seg_suffix
        if label in label_set:
            pairs.append((osp.join(img_dir, name), osp.join(seg_dir, label)))
        else:
            findings.append(Finding(osp.join(img_dir, name),
                                    f'has no label: {osp.join(seg_dir, label)} does not exist'))
    for label in labels:
        if label[:-len(seg_suffix)] not in stems:
            findings.append(Finding(osp.join(seg_dir, label), (
                f'label without an image: no {label[:-len(seg_suffix)] + img_suffix} '
                f'in {img_dir}')))
    return pairs, findings


def check_segmentation(dataset: Any, report: DatasetReport, max_samples: Optional[int],
                       workers: int, progress: bool) -> None:
    """Check an mmseg folder dataset into ``report``: the whole file listing,
    and the first ``max_samples`` image/label pairs decoded (all when None).

    Args:
        dataset: The dataset, built without loading (``build_unloaded``).
        report (DatasetReport): Filled in place.
        max_samples (int, optional): Samples decoded.
        workers (int): Decoding threads.
        progress (bool): Show a progress bar.
    """
    img_dir = dataset.data_prefix.get('img_path') or ''
    seg_dir = dataset.data_prefix.get('seg_map_path')
    img_suffix, seg_suffix = dataset.img_suffix, dataset.seg_map_suffix
    findings = report.findings
    missing = [folder for folder in filter(None, (img_dir, seg_dir)) if not osp.isdir(folder)]
    findings.extend(Finding(folder, 'folder does not exist') for folder in missing)
    if missing:
        return
    ann_file = dataset.ann_file
    if ann_file and not osp.isdir(ann_file):
        if not osp.isfile(ann_file):
            findings.append(Finding(ann_file, 'split file does not exist'))
            return
        images, listing = _listed_images(ann_file, img_dir, img_suffix)
    else:
        images, listing = _split_by_suffix(img_dir, img_suffix, 'images', 'img_suffix')
    findings.extend(listing)
    pairs = [(osp.join(img_dir, name), None) for name in images]
    if seg_dir is not None:
        pairs, pairing = _pair_labels(images, img_dir, img_suffix, seg_dir, seg_suffix)
        findings.extend(pairing)
    report.num_samples = len(images)
    rules = SegLabelRules(len(report.classes), bool(dataset.reduce_zero_label),
                          dataset.label_map, dataset.ignore_index)
    table = rules.target_table()
    checked = pairs[:max_samples] if max_samples is not None else pairs
    counts = np.zeros(len(report.classes), np.int64)
    start = time.perf_counter()
    results = map_checked(check_seg_pair, [(img, label, rules, table) for img, label in checked],
                          workers, progress)
    report.decode_seconds = time.perf_counter() - start
    for pair_findings, pair_counts in results:
        findings.extend(pair_findings)
        counts += pair_counts
    report.num_checked = len(checked)
    report.class_counts = dict(zip(report.classes, counts.tolist()))
