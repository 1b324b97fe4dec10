import pytest
import torch
from mmengine.registry import init_default_scope

from mmfreq.models.backbones import VAN


@pytest.mark.parametrize('scope,registry', [
    ('mmseg', 'mmseg.registry'),
    ('mmdet', 'mmdet.registry'),
    ('mmpretrain', 'mmpretrain.registry'),
])
def test_van_builds_from_every_host_registry(scope, registry):
    import importlib

    init_default_scope(scope)
    models = importlib.import_module(registry).MODELS
    model = models.build(dict(type='mmfreq.VAN', arch='b0', out_indices=(3, )))
    assert isinstance(model, VAN)
    assert model(torch.randn(1, 3, 64, 64))[0].shape == (1, 256, 2, 2)


def test_mmpretrain_van_is_not_shadowed():
    from mmpretrain.models.backbones import VAN as MMPretrainVAN
    from mmpretrain.registry import MODELS

    init_default_scope('mmpretrain')
    assert MODELS.get('VAN') is MMPretrainVAN
    assert MODELS.get('mmfreq.VAN') is VAN
