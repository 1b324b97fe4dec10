"""The dataset doctor: every problem with a config's data, per file, before training.

Segmentation folders (mmseg's ``BaseSegDataset`` family: ADE20K and the
built-in scenes) and COCO-style detection JSON are checked the way their
loaders read them, so that what the doctor calls clean is what trains:

- segmentation: images the suffix rules skip, images without labels and labels
  without images, empty or undecodable files, label/image size mismatch,
  labels with more than one channel, label values outside
  ``[0, num_classes) + {ignore_index}`` after ``reduce_zero_label`` and the
  class remapping;
- COCO: JSON syntax errors with their position, missing sections, duplicate
  ids, annotations of unknown images or categories, degenerate boxes (mmdet
  drops them from training while COCO evaluation still counts them),
  missing, empty or undecodable image files, images whose size is not the
  declared one;
- both: pixel (or instance) counts per class, and each head's
  ``num_classes`` against the dataset's classes.

:func:`check_dataset` reads one dataset config; ``tools/misc/check_dataset.py``
and the tools' pre-flight (:func:`mmfreq.apis.preflight`) call it.
"""
import io
import json
import os
import os.path as osp
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.config import ConfigDict
from mmengine.registry import DATASETS
from mmengine.utils import ProgressBar
from PIL import Image

# Extensions of files that are images (checked case-insensitively) and that a
# dataset is therefore expected to read rather than skip.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.gif')
ERROR, WARNING = 'error', 'warning'


@dataclass
class Finding:
    """One problem with one file (or folder).

    Args:
        path: The file or folder concerned.
        message: What is wrong, with the values found.
        severity: ``'error'`` for data that breaks or silently corrupts
            training or evaluation; ``'warning'`` for data the loader drops by
            design (degenerate boxes, categories outside the classes, files it
            never reads).
    """

    path: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        return f'{self.severity.upper()}: {self.path}: {self.message}'


@dataclass
class DatasetReport:
    """What :func:`check_dataset` found in one dataset.

    Args:
        key: Where the dataset sits in the config, e.g. ``'train_dataloader.dataset'``.
        dataset_type: The config's ``type``.
        kind: ``'segmentation'`` or ``'coco'``.
        classes: The dataset's class names (its metainfo after the config's overrides).
        num_samples: Samples the dataset has.
        num_checked: Samples whose files were decoded.
        class_counts: Per class name, labelled pixels (segmentation) or
            instances (COCO) in the checked samples.
        findings: The problems, in the order found.
        decode_seconds: Wall time spent decoding the ``num_checked`` samples.
    """

    key: str
    dataset_type: str
    kind: str
    classes: Tuple[str, ...]
    num_samples: int = 0
    num_checked: int = 0
    class_counts: Dict[str, int] = field(default_factory=dict)
    findings: List[Finding] = field(default_factory=list)
    decode_seconds: float = 0.0

    @property
    def errors(self) -> List[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> List[Finding]:
        return [f for f in self.findings if f.severity == WARNING]


def dataset_configs(cfg: ConfigDict, key: str) -> Iterator[Tuple[str, ConfigDict]]:
    """Yield (config key, dataset config) for a dataset and every dataset it wraps
    (``RepeatDataset``, ``ClassBalancedDataset``: ``dataset``; ``ConcatDataset``:
    ``datasets``), outermost first.

    Args:
        cfg: A dataset config.
        key: Its place in the full config, used to name it in messages.
    """
    yield key, cfg
    if isinstance(cfg.get('dataset'), dict):
        yield from dataset_configs(cfg.dataset, f'{key}.dataset')
    for i, sub in enumerate(cfg.get('datasets') or []):
        yield from dataset_configs(sub, f'{key}.datasets.{i}')


def leaf_datasets(cfg: ConfigDict, key: str) -> List[Tuple[str, ConfigDict]]:
    """The datasets that read files: those of :func:`dataset_configs` that wrap none.

    Args:
        cfg: A dataset config.
        key: Its place in the full config.
    """
    return [(k, c) for k, c in dataset_configs(cfg, key)
            if not isinstance(c.get('dataset'), dict) and not c.get('datasets')]


def build_unloaded(dataset_cfg: ConfigDict) -> Any:
    """The dataset object without its annotations loaded (``lazy_init``) and
    without its pipeline: its class, metainfo and resolved paths.

    The caller must have set the config's default scope.

    Args:
        dataset_cfg: A leaf dataset config.
    """
    cfg = dict(dataset_cfg)
    cfg.update(lazy_init=True, pipeline=[])
    return DATASETS.build(cfg)


def dataset_kind(dataset: Any) -> Optional[str]:
    """``'segmentation'`` for mmseg folder datasets, ``'coco'`` for COCO-style
    JSON, else None (a format the doctor does not know)."""
    if hasattr(dataset, 'seg_map_suffix') and hasattr(dataset, 'reduce_zero_label'):
        return 'segmentation'
    if str(getattr(dataset, 'ann_file', '')).endswith('.json'):
        return 'coco'
    return None


def expected_num_classes(model_cfg: Any, path: str = 'model') -> List[Tuple[str, int]]:
    """Every ``num_classes`` set under a head of the model config, as
    (dotted key, value); the class-agnostic ``rpn_head`` is left out.

    Args:
        model_cfg: The config's ``model`` (or part of it).
        path: The dotted key of ``model_cfg``.
    """
    found: List[Tuple[str, int]] = []
    if isinstance(model_cfg, dict):
        items: Iterable = model_cfg.items()
    elif isinstance(model_cfg, (list, tuple)):
        items = enumerate(model_cfg)
    else:
        return found
    for key, value in items:
        child = f'{path}.{key}'
        if key == 'num_classes' and isinstance(value, int) and 'head' in path:
            found.append((child, value))
        elif key not in ('rpn_head', 'train_cfg', 'test_cfg'):
            found.extend(expected_num_classes(value, child))
    return found


def check_heads(model_cfg: Any, classes: Sequence[str], dataset_key: str) -> List[Finding]:
    """An error for each head whose ``num_classes`` is not the dataset's class count.

    Args:
        model_cfg: The config's ``model``.
        classes: The dataset's class names.
        dataset_key: The dataset's config key, named in the message.
    """
    return [Finding(key, f'{key}={value} but {dataset_key} has {len(classes)} classes '
                         f'({", ".join(classes)}): set {key}={len(classes)}')
            for key, value in expected_num_classes(model_cfg) if value != len(classes)]


def _read_bytes(path: str) -> Tuple[Optional[bytes], Optional[Finding]]:
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        return None, Finding(path, f'cannot be read: {err.strerror}')
    if not data:
        return None, Finding(path, 'empty file (0 bytes)')
    return data, None


def decode_image(path: str) -> Tuple[Optional[np.ndarray], Optional[Finding]]:
    """The image as OpenCV decodes it for ``LoadImageFromFile``, or the finding
    that says why it cannot be.

    Args:
        path: The image file.
    """
    data, finding = _read_bytes(path)
    if finding is not None:
        return None, finding
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        return None, Finding(path, f'cannot be decoded as an image ({len(data)} bytes)')
    return image, None


def decode_label(path: str) -> Tuple[Optional[np.ndarray], Optional[Finding]]:
    """The label map as mmseg's ``LoadAnnotations`` reads it (Pillow,
    unchanged: palette PNGs give their indices), or the finding that says why
    it cannot be read.

    Args:
        path: The label file.
    """
    data, finding = _read_bytes(path)
    if finding is not None:
        return None, finding
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image), None
    except (OSError, SyntaxError, ValueError) as err:  # what Pillow raises on bad files
        return None, Finding(path, f'cannot be decoded as a label image: {err}')


@dataclass
class SegLabelRules:
    """How mmseg turns stored label values into training targets.

    Args:
        num_classes: The dataset's class count.
        reduce_zero_label: 0 becomes ``ignore_index`` and every other value drops by one.
        label_map: Old class index -> new one (from a ``classes`` override), or None.
        ignore_index: The value the loss ignores.
    """

    num_classes: int
    reduce_zero_label: bool
    label_map: Optional[Dict[int, int]]
    ignore_index: int

    def target_table(self) -> np.ndarray:
        """Target of each stored uint8 value, as ``LoadAnnotations`` maps it."""
        table = np.arange(256, dtype=np.int64)
        if self.reduce_zero_label:
            table = np.where(table == 0, 255, table - 1)
            table[table == 254] = 255
        if self.label_map:
            mapped = table.copy()
            for old, new in self.label_map.items():
                mapped[table == old] = new
            table = mapped
        return table

    def describe_valid(self) -> str:
        """The stored values that are valid, in words."""
        table = self.target_table()
        valid = [v for v in range(256) if 0 <= table[v] < self.num_classes]
        ignored = [v for v in range(256) if table[v] == self.ignore_index]
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


def check_seg_pair(img_path: str, label_path: Optional[str], rules: SegLabelRules
                   ) -> Tuple[List[Finding], np.ndarray]:
    """Decode one image and its label; return the findings and the pixel
    count of each class (index ``num_classes`` counts nothing: zeros when the
    label is unusable).

    Args:
        img_path: The image file.
        label_path: Its label file, or None for an unlabelled dataset.
        rules: The dataset's label conventions.
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
    if label.ndim == 3 and label.shape[2] > 1:
        return findings + [Finding(label_path, (
            f'label has {label.shape[2]} channels: label maps must be single-channel '
            'class indices (an 8-bit grey or palette PNG), not colour images'))], counts
    label = label.reshape(label.shape[:2])
    if image is not None and image.shape[:2] != label.shape:
        findings.append(Finding(label_path, (
            f'label is {label.shape[1]}x{label.shape[0]} (WxH) but its image {img_path} '
            f'is {image.shape[1]}x{image.shape[0]}')))
    if label.dtype == np.uint8:  # the usual case; bincount is ~8x faster than unique here
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
    targets = rules.target_table()[values.astype(np.int64)]
    bad = (targets >= rules.num_classes) & (targets != rules.ignore_index)
    if bad.any():
        findings.append(Finding(label_path, (
            f'label values {values[bad].tolist()} are not classes: '
            f'{rules.describe_valid()}')))
    good = targets < rules.num_classes
    np.add.at(counts, targets[good], pixels[good])
    return findings, counts


def _list_files(folder: str) -> List[str]:
    """Paths relative to ``folder`` of every file under it (hidden files left
    out), sorted, as mmengine's ``list_dir_or_file(recursive=True)`` walks."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        for name in files:
            if not name.startswith('.'):
                found.append(osp.relpath(osp.join(root, name), folder))
    return sorted(found)


def _split_by_suffix(folder: str, suffix: str, what: str, suffix_key: str
                     ) -> Tuple[List[str], List[Finding]]:
    """The files of ``folder`` the dataset reads (ending in ``suffix``), and a
    finding for each image file it skips."""
    read, findings = [], []
    for name in _list_files(folder):
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


def _map_checked(fn: Callable, tasks: Sequence[tuple], workers: int, progress: bool
                 ) -> List[Any]:
    """``fn(*task)`` for each task on a thread pool (OpenCV and Pillow decode
    without holding the GIL), in order, with a progress bar if asked."""
    bar = ProgressBar(len(tasks)) if progress and tasks else None
    results = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for result in pool.map(lambda task: fn(*task), tasks):
            results.append(result)
            if bar is not None:
                bar.update()
    if bar is not None:
        print()
    return results


def _check_segmentation(dataset: Any, report: DatasetReport, max_samples: Optional[int],
                        workers: int, progress: bool) -> None:
    img_dir = dataset.data_prefix.get('img_path') or ''
    seg_dir = dataset.data_prefix.get('seg_map_path')
    img_suffix, seg_suffix = dataset.img_suffix, dataset.seg_map_suffix
    findings = report.findings
    for folder in filter(None, (img_dir, seg_dir)):
        if not osp.isdir(folder):
            findings.append(Finding(folder, 'folder does not exist'))
    if any(f.message == 'folder does not exist' for f in findings):
        return
    ann_file = dataset.ann_file
    if ann_file and not osp.isdir(ann_file):  # a split file: one name per line
        if not osp.isfile(ann_file):
            findings.append(Finding(ann_file, 'split file does not exist'))
            return
        with open(ann_file) as f:
            names = [line.strip() + img_suffix for line in f if line.strip()]
        images = []
        for name in names:
            if osp.isfile(osp.join(img_dir, name)):
                images.append(name)
            else:
                findings.append(Finding(osp.join(img_dir, name),
                                        f'listed in {ann_file} but does not exist'))
    else:
        images, skipped = _split_by_suffix(img_dir, img_suffix, 'images', 'img_suffix')
        findings.extend(skipped)
    pairs = [(osp.join(img_dir, name), None) for name in images]
    if seg_dir is not None:
        labels, skipped = _split_by_suffix(seg_dir, seg_suffix, 'labels', 'seg_map_suffix')
        findings.extend(skipped)
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
    report.num_samples = len(images)
    rules = SegLabelRules(len(report.classes), bool(dataset.reduce_zero_label),
                          dataset.label_map, dataset.ignore_index)
    checked = pairs[:max_samples] if max_samples is not None else pairs
    counts = np.zeros(len(report.classes), np.int64)
    start = time.perf_counter()
    results = _map_checked(check_seg_pair, [(img, label, rules) for img, label in checked],
                           workers, progress)
    report.decode_seconds = time.perf_counter() - start
    for pair_findings, pair_counts in results:
        findings.extend(pair_findings)
        counts += pair_counts
    report.num_checked = len(checked)
    report.class_counts = dict(zip(report.classes, counts.tolist()))


def load_json(path: str) -> Tuple[Any, Optional[Finding]]:
    """The parsed JSON file, or the finding naming the file and the position of
    the syntax error.

    Args:
        path: The JSON file.
    """
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f), None
    except json.JSONDecodeError as err:
        return None, Finding(path, f'not valid JSON: {err.msg} at line {err.lineno} '
                                   f'column {err.colno} (char {err.pos})')
    except UnicodeDecodeError as err:
        return None, Finding(path, f'not UTF-8 text: {err}')
    except OSError as err:
        return None, Finding(path, f'cannot be read: {err.strerror}')


def _duplicates(items: List[dict], what: str, where: str) -> List[Finding]:
    counts = Counter(item.get('id') for item in items)
    return [Finding(where, f'{what} id {i!r} appears {n} times')
            for i, n in counts.items() if n > 1]


def check_coco_image(path: str, height: Any, width: Any) -> List[Finding]:
    """Decode one COCO image and compare its size with the declared one.

    Args:
        path: The image file.
        height: The ``height`` of its entry in the JSON.
        width: The ``width`` of its entry in the JSON.
    """
    image, finding = decode_image(path)
    if finding is not None:
        return [finding]
    if (height, width) != image.shape[:2]:
        return [Finding(path, f'image is {image.shape[1]}x{image.shape[0]} (WxH) but the '
                              f'annotation file declares {width}x{height}')]
    return []


def _check_coco(dataset: Any, report: DatasetReport, max_samples: Optional[int],
                workers: int, progress: bool) -> None:
    ann_file = dataset.ann_file
    img_dir = dataset.data_prefix.get('img') or dataset.data_prefix.get('img_path') or ''
    findings = report.findings
    coco, finding = load_json(ann_file)
    if finding is not None:
        findings.append(finding)
        return
    sections = {}
    for name in ('images', 'annotations', 'categories'):
        value = coco.get(name) if isinstance(coco, dict) else None
        if not isinstance(value, list):
            findings.append(Finding(ann_file, f'has no "{name}" list'))
        sections[name] = value if isinstance(value, list) else []
    images, annotations, categories = (sections[n] for n in ('images', 'annotations',
                                                              'categories'))
    for what, items in (('image', images), ('annotation', annotations),
                        ('category', categories)):
        findings.extend(_duplicates(items, what, ann_file))
    category_names = {c.get('id'): c.get('name') for c in categories}
    missing = [c for c in report.classes if c not in category_names.values()]
    if missing:
        findings.append(Finding(ann_file, (
            f'classes {missing} of the dataset have no category here (categories: '
            f'{sorted(map(str, category_names.values()))}): they never get an example')))
    for cid, name in category_names.items():
        if name not in report.classes:
            findings.append(Finding(ann_file, (
                f'category {name!r} (id {cid}) is not one of the dataset\'s classes: '
                'its annotations are not used'), WARNING))
    image_of = {image.get('id'): image for image in images}
    instances: Counter = Counter()
    for ann in annotations:
        image = image_of.get(ann.get('image_id'))
        where = f'annotation id {ann.get("id")!r}'
        if image is None:
            findings.append(Finding(ann_file, f'{where}: image_id {ann.get("image_id")!r} '
                                              'is not in "images"'))
            continue
        where += f' (image {image.get("file_name")})'
        if ann.get('category_id') not in category_names:
            findings.append(Finding(ann_file, (
                f'{where}: category_id {ann.get("category_id")!r} is not in "categories" '
                f'(ids {sorted(category_names, key=str)})')))
            continue
        box = ann.get('bbox')
        if not (isinstance(box, list) and len(box) == 4
                and all(isinstance(v, (int, float)) for v in box)):
            findings.append(Finding(ann_file, f'{where}: bbox {box!r} is not [x, y, w, h]'))
            continue
        x, y, w, h = box
        inside_w = min(x + w, image.get('width', x + w)) - max(x, 0)
        inside_h = min(y + h, image.get('height', y + h)) - max(y, 0)
        if w < 1 or h < 1 or ann.get('area', 1) <= 0 or inside_w <= 0 or inside_h <= 0:
            findings.append(Finding(ann_file, (
                f'{where}: degenerate box {box} (area {ann.get("area")}): under a pixel wide '
                'or high, or outside the image; mmdet drops it from training but COCO '
                'evaluation still counts it as ground truth'), WARNING))
            continue
        if category_names[ann['category_id']] in report.classes:
            instances[category_names[ann['category_id']]] += 1
    report.class_counts = {c: instances[c] for c in report.classes}
    report.num_samples = len(images)
    listed = set()
    tasks = []
    for image in images:
        if 'file_name' not in image:
            findings.append(Finding(ann_file, f'image id {image.get("id")!r} has no file_name'))
            continue
        path = osp.join(img_dir, image['file_name'])
        listed.add(osp.normpath(path))
        if not osp.isfile(path):
            findings.append(Finding(path, f'does not exist (image id {image.get("id")!r} '
                                          f'of {ann_file})'))
        else:
            tasks.append((path, image.get('height'), image.get('width')))
    if osp.isdir(img_dir):
        for name in _list_files(img_dir):
            path = osp.join(img_dir, name)
            if name.lower().endswith(IMAGE_EXTENSIONS) and osp.normpath(path) not in listed:
                findings.append(Finding(path, f'image without an entry in {ann_file}: never '
                                              'read', WARNING))
    checked = tasks[:max_samples] if max_samples is not None else tasks
    start = time.perf_counter()
    results = _map_checked(check_coco_image, checked, workers, progress)
    report.decode_seconds = time.perf_counter() - start
    for image_findings in results:
        findings.extend(image_findings)
    report.num_checked = len(checked)


def check_dataset(dataset_cfg: ConfigDict, key: str, max_samples: Optional[int] = None,
                  workers: Optional[int] = None, progress: bool = False) -> DatasetReport:
    """Check the files of one (leaf) dataset config.

    Listing-level checks (suffix rules, pairing, JSON contents) always cover
    the whole dataset; ``max_samples`` limits only how many samples are decoded.
    The caller must have set the config's default scope.

    Args:
        dataset_cfg: A dataset config that reads files (see :func:`leaf_datasets`).
        key: Its config key, used in messages.
        max_samples: Decode only the first this many samples; all when None.
        workers: Decoding threads; ``os.cpu_count()`` when None.
        progress: Show a progress bar while decoding.
    """
    dataset = build_unloaded(dataset_cfg)
    kind = dataset_kind(dataset)
    classes = tuple(dataset.metainfo.get('classes') or ())
    report = DatasetReport(key, str(dataset_cfg.get('type')), kind or 'unknown', classes)
    workers = workers or os.cpu_count() or 1
    if kind == 'segmentation':
        _check_segmentation(dataset, report, max_samples, workers, progress)
    elif kind == 'coco':
        _check_coco(dataset, report, max_samples, workers, progress)
    else:
        report.findings.append(Finding(key, (
            f'{report.dataset_type} is neither an mmseg folder dataset nor COCO-style JSON: '
            'the doctor cannot check it'), WARNING))
    return report
