"""The ``mmfreq`` registry scope.

Each registry is a child of mmengine's root, as mmdet's, mmseg's and
mmpretrain's are, so a config of any of them can select an mmfreq module with
the scope prefix, e.g. ``backbone=dict(type='mmfreq.VAN', arch='b2')``.
mmengine imports ``mmfreq.registry`` when it first meets the ``mmfreq.``
prefix, and ``locations`` then imports the modules that register into it.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

__all__ = ['DATASETS', 'METRICS', 'MODELS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'TRANSFORMS']

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmfreq', locations=['mmfreq.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmfreq',
                    locations=['mmfreq.datasets.synthetic_ade'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmfreq',
                   locations=['mmfreq.evaluation'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='mmfreq', locations=['mmfreq.engine'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmfreq',
                      locations=['mmfreq.datasets.transforms'])
