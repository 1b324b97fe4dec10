"""The ``mmfreq`` registry scope.

Each registry is a child of mmengine's root, as mmdet's, mmseg's and
mmpretrain's are, so a config of any of them can select an mmfreq module with
the scope prefix, e.g. ``backbone=dict(type='mmfreq.VAN', arch='b2')``.
mmengine imports ``mmfreq.registry`` when it first meets the ``mmfreq.``
prefix, and ``locations`` then imports the modules that register into it.
A renamed model type raises :class:`RenamedTypeError` naming the new one.
"""
from typing import Optional, Type

from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

from mmfreq.errors import UserError

__all__ = ['DATASETS', 'METRICS', 'MODELS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'RENAMED_MODELS',
           'RenamedTypeError', 'TRANSFORMS']

# old type name -> new type name, for the models mmfreq has renamed
RENAMED_MODELS = {'FDAMViT': 'FDAMDeiT3'}


class RenamedTypeError(KeyError, UserError):
    """A ``type`` that mmfreq has renamed (a KeyError, as an unknown type)."""

    def __str__(self) -> str:  # the message as written, not KeyError's repr of it
        return BaseException.__str__(self)


class _ModelRegistry(Registry):
    """mmengine's Registry, but a renamed type raises :class:`RenamedTypeError`."""

    def get(self, key: str) -> Optional[Type]:
        scope, name = self.split_scope_key(key)
        if scope in (None, self.scope) and name in RENAMED_MODELS:
            raise RenamedTypeError(f"type='mmfreq.{name}' was renamed: use "
                                   f"type='mmfreq.{RENAMED_MODELS[name]}' (the same arguments, "
                                   'parameters and checkpoints)')
        return super().get(key)


MODELS = _ModelRegistry('model', parent=MMENGINE_MODELS, scope='mmfreq',
                        locations=['mmfreq.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmfreq',
                    locations=['mmfreq.datasets.synthetic_ade'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmfreq',
                   locations=['mmfreq.evaluation'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='mmfreq', locations=['mmfreq.engine'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmfreq',
                      locations=['mmfreq.datasets.transforms'])
