"""COCO-style detection JSON, checked the way mmdet's ``CocoDataset`` reads it:
syntax errors with their position, missing sections, duplicate ids,
annotations of unknown images or categories, degenerate boxes, missing or
undecodable images and images of another size than declared."""
import os.path as osp
import time
from collections import Counter
from typing import Any, List, Optional

from .files import IMAGE_EXTENSIONS, decode_image, list_files, load_json, map_checked
from .findings import DatasetReport, Finding, Severity


def _duplicate_ids(items: List[dict], what: str, where: str) -> List[Finding]:
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


def check_coco(dataset: Any, report: DatasetReport, max_samples: Optional[int],
               workers: int, progress: bool) -> None:
    """Check a COCO-style dataset into ``report``: the whole annotation file,
    and the first ``max_samples`` images decoded (all when None).

    Args:
        dataset: The dataset, built without loading (``build_unloaded``).
        report (DatasetReport): Filled in place.
        max_samples (int, optional): Images decoded.
        workers (int): Decoding threads.
        progress (bool): Show a progress bar.
    """
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
        findings.extend(_duplicate_ids(items, what, ann_file))
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
                'its annotations are not used'), Severity.WARNING))
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
                'evaluation still counts it as ground truth'), Severity.WARNING))
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
        for name in list_files(img_dir):
            path = osp.join(img_dir, name)
            if name.lower().endswith(IMAGE_EXTENSIONS) and osp.normpath(path) not in listed:
                findings.append(Finding(path, f'image without an entry in {ann_file}: never '
                                              'read', Severity.WARNING))
    checked = tasks[:max_samples] if max_samples is not None else tasks
    start = time.perf_counter()
    results = map_checked(check_coco_image, checked, workers, progress)
    report.decode_seconds = time.perf_counter() - start
    for image_findings in results:
        findings.extend(image_findings)
    report.num_checked = len(checked)
