"""The full-size detectors and segmentors built from the shipped configs
compute losses that reach the backbone, and predict, on small inputs."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfreq.apis import build_model_from_config
from mmfreq.testing.tools import ROOT

SIZE = (64, 96)


def seg_samples(num_classes: int, batch: int):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=SIZE, ori_shape=SIZE, pad_shape=SIZE))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, *SIZE)))
        samples.append(sample)
    return samples


def det_samples(batch: int):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    samples = []
    for _ in range(batch):
        masks = np.zeros((2, *SIZE), dtype=np.uint8)
        masks[0, 6:50, 4:40] = 1
        masks[1, 20:60, 50:90] = 1
        sample = DetDataSample(metainfo=dict(img_shape=SIZE, ori_shape=SIZE, pad_shape=SIZE,
                                             batch_input_shape=SIZE, scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[4.0, 6.0, 40.0, 50.0], [50.0, 20.0, 90.0, 60.0]]),
            labels=torch.tensor([1, 3]), masks=BitmapMasks(masks, *SIZE))
        samples.append(sample)
    return samples


@pytest.mark.slow  # full-size models, seconds each to build and run on a CPU
@pytest.mark.parametrize('name', ['upernet_fdam_vit_b.py', 'mask_rcnn_fdam_vit_b_1x.py',
                                  'mask_rcnn_focal_t_1x.py', 'retinanet_focal_t_1x.py',
                                  'retinanet_aa_r50_1x.py', 'upernet_aa_r50.py'])
def test_loss_and_predict(name):
    config = str(ROOT / 'configs' / name)
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    model = build_model_from_config(config).train()
    inputs = torch.randn(2, 3, *SIZE)
    if cfg.default_scope == 'mmseg':
        samples = seg_samples(cfg.model.decode_head.num_classes, 2)
    else:
        samples = det_samples(2)
    losses = model.loss(inputs, samples)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total) and total > 0
    total.backward()
    backbone_grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert sum(g.abs().sum() for g in backbone_grads if g is not None) > 0

    model.eval()
    with torch.no_grad():
        predictions = model.predict(inputs, samples)
    assert len(predictions) == 2
    if cfg.default_scope == 'mmseg':
        assert predictions[0].pred_sem_seg.data.shape == (1, *SIZE)
    else:
        assert predictions[0].pred_instances.bboxes.shape[-1] == 4
