"""A data pipeline that names the sample's files in every error it raises
(see "Pre-flight" in docs/reliability.md). mmfreq's tools wrap each dataset's
pipeline in it; a config can do so by hand::

    pipeline = [dict(type='mmfreq.CheckedPipeline', transforms=train_pipeline,
                     num_classes=150)]
"""
from typing import Callable, List, Optional, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose

from mmfreq.errors import UserError
from mmfreq.registry import TRANSFORMS

from .labels import invalid_targets, label_shape_problem


class SampleError(RuntimeError, UserError):
    """Loading or transforming one sample failed, or its label is unusable."""


@TRANSFORMS.register_module()
class CheckedPipeline(BaseTransform):
    """Run ``transforms`` on a sample; any error they raise is re-raised as
    :class:`SampleError` naming the sample's image and label files.

    Where a transform first puts a segmentation label (``gt_seg_map``) into
    the sample, the label is checked as loaded: one channel, the size of the
    image it belongs to (``ori_shape``), and, when ``num_classes`` is given,
    only values in ``[0, num_classes)`` or ``ignore_index`` (after
    ``reduce_zero_label`` and any class remapping, as the loss sees them).

    Args:
        transforms: The pipeline to run (configs or callables).
        num_classes: The dataset's class count; None skips the value check.
        ignore_index: The label value the loss ignores.
    """

    def __init__(self, transforms: List[Union[dict, Callable]],
                 num_classes: Optional[int] = None, ignore_index: int = 255) -> None:
        self.pipeline = Compose(transforms)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    @staticmethod
    def _files(results: dict) -> str:
        files = [results[k] for k in ('img_path', 'seg_map_path') if results.get(k)]
        return ' / '.join(map(str, files)) or 'sample without a file path'

    def _check_label(self, results: dict) -> None:
        label, path = results['gt_seg_map'], results.get('seg_map_path')
        problem = label_shape_problem(label.shape, results.get('ori_shape'),
                                      results.get('img_path'))
        if problem is not None:
            raise SampleError(f'{path}: {problem}')
        if self.num_classes is None:
            return
        values = np.flatnonzero(np.bincount(label.ravel()))
        bad = values[invalid_targets(values, self.num_classes, self.ignore_index)]
        if bad.size:
            zero = ' after reduce_zero_label' if results.get('reduce_zero_label') else ''
            raise SampleError(
                f'{path}: label values{zero} {bad.tolist()} are not classes: the dataset has '
                f'{self.num_classes} (0..{self.num_classes - 1}), and {self.ignore_index} '
                'is ignored. Check it with tools/misc/check_dataset.py')

    def transform(self, results: dict) -> Optional[dict]:
        """Apply the pipeline, checking the label where it is loaded.

        Args:
            results: The sample's data info.
        """
        files = self._files(results)
        had_label = 'gt_seg_map' in results
        for transform in self.pipeline.transforms:
            try:
                results = transform(results)
            except SampleError:
                raise
            except Exception as err:  # any failure: say which sample it was
                raise SampleError(f'{files}: {type(err).__name__} in {type(transform).__name__}: '
                                  f'{err}') from err
            if results is None:  # a transform rejected the sample; the dataset refetches
                return None
            if not had_label and 'gt_seg_map' in results:
                self._check_label(results)
                had_label = True
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_classes={self.num_classes}, {self.pipeline!r})'
