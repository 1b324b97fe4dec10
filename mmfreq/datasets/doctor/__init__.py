"""The dataset doctor: every problem with a config's data, per file, before training.

Segmentation folders (:mod:`.segmentation`) and COCO-style detection JSON
(:mod:`.coco`) are checked the way their loaders read them, so that what the
doctor calls clean is what trains; :mod:`.config` finds a config's datasets,
checks each head's ``num_classes`` against the dataset's classes and runs the
check of one dataset (:func:`check_dataset`), which ``tools/misc/check_dataset.py``
and the tools' pre-flight (:func:`mmfreq.datasets.preflight.preflight`) call.
Each problem is a :class:`Finding` with a :class:`Severity`; per class, the
report counts labelled pixels (or instances).
"""
from .config import (
    build_unloaded,
    check_dataset,
    check_heads,
    dataset_configs,
    dataset_kind,
    expected_num_classes,
    leaf_datasets,
)
from .findings import DatasetReport, Finding, Kind, Severity
from .segmentation import SegLabelRules

__all__ = ['DatasetReport', 'Finding', 'Kind', 'SegLabelRules', 'Severity', 'build_unloaded',
           'check_dataset', 'check_heads', 'dataset_configs', 'dataset_kind',
           'expected_num_classes', 'leaf_datasets']
