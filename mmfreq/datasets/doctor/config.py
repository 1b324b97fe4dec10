"""The config side of the doctor: which datasets a config reads, what kind
each is, the heads' class counts against them, and the check of one dataset."""
import os
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import ConfigDict
from mmengine.registry import DATASETS

from .coco import check_coco
from .findings import DatasetReport, Finding, Kind, Severity
from .segmentation import check_segmentation


def dataset_configs(cfg: ConfigDict, key: str) -> Iterator[Tuple[str, ConfigDict]]:
    """Yield (config key, dataset config) for ``cfg``, the dataset config at
    ``key`` of the full config, and for every dataset it wraps (``RepeatDataset``,
    ``ClassBalancedDataset``: ``dataset``; ``ConcatDataset``: ``datasets``),
    outermost first."""
    yield key, cfg
    if isinstance(cfg.get('dataset'), dict):
        yield from dataset_configs(cfg.dataset, f'{key}.dataset')
    for i, sub in enumerate(cfg.get('datasets') or []):
        yield from dataset_configs(sub, f'{key}.datasets.{i}')


def leaf_datasets(cfg: ConfigDict, key: str) -> List[Tuple[str, ConfigDict]]:
    """The datasets of :func:`dataset_configs` that read files: those that wrap none."""
    return [(k, c) for k, c in dataset_configs(cfg, key)
            if not isinstance(c.get('dataset'), dict) and not c.get('datasets')]


def build_unloaded(dataset_cfg: ConfigDict) -> Any:
    """A leaf dataset built without its annotations (``lazy_init``) and pipeline:
    its class, metainfo and resolved paths. The caller sets the default scope."""
    cfg = dict(dataset_cfg)
    cfg.update(lazy_init=True, pipeline=[])
    return DATASETS.build(cfg)


def dataset_kind(dataset: Any) -> Kind:
    """:attr:`Kind.SEGMENTATION` for mmseg folder datasets, :attr:`Kind.COCO` for
    COCO-style JSON, else :attr:`Kind.UNKNOWN`, of a :func:`build_unloaded` dataset."""
    if hasattr(dataset, 'seg_map_suffix') and hasattr(dataset, 'reduce_zero_label'):
        return Kind.SEGMENTATION
    if str(getattr(dataset, 'ann_file', '')).endswith('.json'):
        return Kind.COCO
    return Kind.UNKNOWN


def expected_num_classes(model_cfg: Any, path: str = 'model') -> List[Tuple[str, int]]:
    """Every ``num_classes`` set under a head of ``model_cfg`` (at dotted key
    ``path``), as (dotted key, value); the class-agnostic ``rpn_head`` is left out."""
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
    """An error for each head of ``model_cfg`` whose ``num_classes`` is not the
    count of ``classes``, the dataset at config key ``dataset_key``."""
    return [Finding(key, f'{key}={value} but {dataset_key} has {len(classes)} classes '
                         f'({", ".join(classes)}): set {key}={len(classes)}')
            for key, value in expected_num_classes(model_cfg) if value != len(classes)]


def check_dataset(dataset_cfg: ConfigDict, key: str, max_samples: Optional[int] = None,
                  workers: Optional[int] = None, progress: bool = False) -> DatasetReport:
    """Check the files of one leaf dataset config (the caller sets the default
    scope). Listing checks (suffixes, pairing, JSON contents) cover the whole
    dataset; ``max_samples`` limits only how many samples are decoded.

    Args:
        dataset_cfg (ConfigDict): A dataset config that reads files.
        key (str): Its config key, used in messages.
        max_samples (int, optional): Decode only the first this many; all when None.
        workers (int, optional): Decoding threads; ``os.cpu_count()`` when None.
        progress (bool): Show a progress bar while decoding.

    Returns:
        DatasetReport: What was found.
    """
    dataset = build_unloaded(dataset_cfg)
    kind = dataset_kind(dataset)
    classes = tuple(dataset.metainfo.get('classes') or ())
    report = DatasetReport(key, str(dataset_cfg.get('type')), kind, classes)
    workers = workers or os.cpu_count() or 1
    if kind is Kind.SEGMENTATION:
        check_segmentation(dataset, report, max_samples, workers, progress)
    elif kind is Kind.COCO:
        check_coco(dataset, report, max_samples, workers, progress)
    else:
        report.findings.append(Finding(key, (
            f'{report.dataset_type} is neither an mmseg folder dataset nor COCO-style JSON: '
            'the doctor cannot check it'), Severity.WARNING))
    return report
