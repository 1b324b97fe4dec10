"""What the dataset doctor reports: one finding per file, and a report per dataset."""
from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, List, Tuple


class Severity(str, Enum):
    """How bad a finding is. ``ERROR``: data that breaks or silently corrupts
    training or evaluation. ``WARNING``: data the loader drops by design
    (degenerate boxes, categories outside the classes, files it never reads)."""

    ERROR = 'error'
    WARNING = 'warning'

    def __str__(self) -> str:
        return self.value


class Kind(str, Enum):
    """The dataset formats the doctor knows."""

    SEGMENTATION = 'segmentation'
    COCO = 'coco'
    UNKNOWN = 'unknown'

    def __str__(self) -> str:
        return self.value


@dataclass
class Finding:
    """One problem with one file, folder or config key (``path``): ``message``
    says what is wrong, with the values found, at a :class:`Severity`."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f'{self.severity.value.upper()}: {self.path}: {self.message}'


@dataclass
class DatasetReport:
    """What the doctor found in one dataset.

    Args:
        key (str): Where the dataset sits in the config, e.g. ``'train_dataloader.dataset'``.
        dataset_type (str): The config's ``type``.
        kind (Kind): The format checked.
        classes (tuple[str]): Class names (its metainfo after the config's overrides).
        num_samples (int): Samples the dataset has.
        num_checked (int): Samples whose files were decoded.
        class_counts (dict): Per class name, labelled pixels (segmentation) or
            instances (COCO) in the checked samples.
        findings (list[Finding]): The problems, in the order found.
        decode_seconds (float): Wall time spent decoding the ``num_checked`` samples.
    """

    key: str
    dataset_type: str
    kind: Kind
    classes: Tuple[str, ...]
    num_samples: int = 0
    num_checked: int = 0
    class_counts: Dict[str, int] = field(default_factory=dict)
    findings: List[Finding] = field(default_factory=list)
    decode_seconds: float = 0.0

    @property
    def errors(self) -> List[Finding]:
        """The findings of severity ``ERROR``."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> List[Finding]:
        """The findings of severity ``WARNING``."""
        return [f for f in self.findings if f.severity is Severity.WARNING]
