"""Every shipped config builds its model and runs a forward pass."""
import pytest
import torch

from mmfreq.apis import build_model_from_config
from mmfreq.testing.tools import ROOT

CONFIGS = sorted(p.name for p in (ROOT / 'configs').glob('*.py'))
# Full-size models take seconds each to build on a CPU: the small ones stay in
# the fast tier, every config is built in the full suite.
BUILDS = [name if 'synthetic' in name else pytest.param(name, marks=pytest.mark.slow)
          for name in CONFIGS]


def test_the_shipped_configs_are_all_here():
    assert {'upernet_van_b.py', 'fpn_van_t.py', 'van_b_in1k.py', 'mask_rcnn_van_b_1x.py',
            'retinanet_van_b_1x.py', 'fpn_van_t_synthetic.py'} <= set(CONFIGS)


@pytest.mark.parametrize('name', BUILDS)
def test_config_builds_and_runs_forward(name):
    from mmengine.config import Config

    cfg = Config.fromfile(ROOT / 'configs' / name)
    model = build_model_from_config(cfg)
    inputs = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        if cfg.default_scope == 'mmdet':
            # two-stage heads need data samples; the train/test tests run them
            features = model.extract_feat(inputs)
            fpn = cfg.model.neck[-1] if isinstance(cfg.model.neck, list) else cfg.model.neck
            assert len(features) == fpn.num_outs
            assert features[0].shape[1] == fpn.out_channels
            return
        out = model(inputs)
    if cfg.default_scope == 'mmseg':  # per-pixel class scores at the head's stride (1/4)
        # a ViT without a neck (mmseg's DeiT UperNet): the patch grid's stride
        plain_vit = cfg.model.get('neck') is None and 'patch_size' in cfg.model.backbone
        stride = cfg.model.decode_head.get(
            'feature_strides', [cfg.model.backbone.patch_size if plain_vit else 4])[0]
        assert out.shape == (1, cfg.model.decode_head.num_classes, 64 // stride, 96 // stride)
    else:
        assert out.shape == (1, cfg.model.head.num_classes)
