"""AA-ResNet: shapes, parameter budget, loading plain ResNet weights."""
import math

import pytest
import torch
from mmpretrain.models.backbones import ResNet

from mmfreq.models import AAResNet
from mmfreq.models.backbones.aa_resnet import channels_for_heads
from mmfreq.models.layers import AAConv2d
from mmfreq.testing.compile import assert_compiles_like_eager
from mmfreq.utils import load_pretrained_weights


@pytest.fixture(scope='module')
def aa_r50():
    return AAResNet(50).eval()


@pytest.mark.parametrize('size', [(64, 64), (97, 131), (33, 50), (40, 24)])
def test_strides_and_channels(aa_r50, size):
    with torch.no_grad():
        outs = aa_r50(torch.randn(1, 3, *size))
    for i, out in enumerate(outs):
        # stem conv (s2, p3) then max-pool (s2, p1), then a stride-2 3x3 per stage
        side = [math.ceil(s / 4) for s in size]
        for _ in range(i):
            side = [math.ceil(s / 2) for s in side]
        assert out.shape == (1, 256 * 2**i, *side)


def test_paper_stages_are_augmented_with_rounded_widths(aa_r50):
    convs = aa_r50.augmented_convs()
    assert len(convs) == 4 + 6 + 3  # the bottlenecks of stages 2-4 of ResNet-50
    assert not any(name.startswith('layer1.') for name in convs)
    widths = {(m.key_channels, m.value_channels) for m in convs.values()}
    assert widths == {(24, 16), (48, 24), (104, 48)}
    assert convs['layer3.0.conv2'].stride == 2
    assert channels_for_heads(0.1, 64, 8) == 8  # 6.4 rounds to one channel per head


@pytest.mark.parametrize('depth', [50, 101])
def test_parameter_count_within_two_percent_of_resnet(depth):
    aa = sum(p.numel() for p in AAResNet(depth).parameters())
    plain = sum(p.numel() for p in ResNet(depth).parameters())
    assert aa != plain
    assert abs(aa - plain) / plain < 0.02, (aa, plain)


def test_loss_reaches_the_attention_and_frozen_stages_stay_frozen():
    model = AAResNet(50, frozen_stages=1, norm_eval=True).train()
    assert not model.layer1[0].bn1.training
    model(torch.randn(2, 3, 64, 64))[-1].mean().backward()
    assert model.layer1[0].conv2.weight.grad is None
    assert not model.layer1[0].conv2.weight.requires_grad
    assert model.layer2[0].conv2.rel_table_w.grad.abs().sum() > 0
    assert model.layer4[2].conv2.qkv.weight.grad.abs().sum() > 0


def test_plain_resnet_weights_load_and_new_keys_are_reported(tmp_path):
    torch.manual_seed(0)
    plain = ResNet(50)
    state = {k: v + torch.rand_like(v) if v.is_floating_point() else v
             for k, v in plain.state_dict().items()}
    state['fc.weight'] = torch.zeros(1000, 2048)  # torchvision keeps its classifier
    path = tmp_path / 'resnet50.pth'
    torch.save(state, path)

    model = AAResNet(50, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    aa = model.layer3[1].conv2
    torch.testing.assert_close(aa.conv.weight, state['layer3.1.conv2.weight'][:256 - 24])
    torch.testing.assert_close(model.layer3[1].bn2.running_var, state['layer3.1.bn2.running_var'])
    torch.testing.assert_close(model.layer1[0].conv2.weight, state['layer1.0.conv2.weight'])

    fresh = AAResNet(50)
    new = load_pretrained_weights(fresh, str(path))
    expected = {f'{name}.{p}' for name, m in model.augmented_convs().items()
                for p, _ in m.named_parameters() if not p.startswith('conv.')}
    assert set(new) == expected


def test_mmpretrain_checkpoint_loads_with_its_prefix(tmp_path):
    plain = ResNet(50)
    path = tmp_path / 'mmpretrain_r50.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in plain.state_dict().items()}},
               path)
    model = AAResNet(50, init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                       prefix='backbone.'))
    model.init_weights()
    torch.testing.assert_close(model.conv1.weight, plain.conv1.weight)


def test_checkpoint_of_another_depth_names_the_keys(tmp_path):
    path = tmp_path / 'resnet101.pth'
    torch.save(ResNet(101).state_dict(), path)
    model = AAResNet(50, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    # the file, the layout it was read as, the model, and the first extra key
    with pytest.raises(ValueError, match=r'resnet101\.pth.*plain ResNet.*AAResNet.*'
                                         r'unexpected.*layer3\.6\.'):
        model.init_weights()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='depth=18'):
        AAResNet(18)
    with pytest.raises(ValueError, match=r'stage_with_aa=\(True, True\).*\(4\)'):
        AAResNet(50, stage_with_aa=(True, True))
    with pytest.raises(ValueError, match='stage 4 is dilated'):
        AAResNet(50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))


def test_each_augmented_conv_is_an_aaconv(aa_r50):
    assert all(isinstance(aa_r50.layer4[i].conv2, AAConv2d) for i in range(3))
    assert isinstance(aa_r50.layer1[0].conv2, torch.nn.Conv2d)


def test_norm_eval_keeps_training_the_bn_after_each_augmented_conv():
    """Under norm_eval the attention channels, which have no ImageNet statistics,
    get them from the data; every other BN, and the frozen stages, keep theirs."""
    model = AAResNet(50, stage_with_aa=(True, False, True, True), frozen_stages=1,
                     norm_eval=True).train()
    training = {name for name, m in model.named_modules()
                if isinstance(m, torch.nn.BatchNorm2d) and m.training}
    expected = {f'{layer}.{i}.bn2' for layer, blocks in (('layer3', 6), ('layer4', 3))
                for i in range(blocks)}
    assert training == expected  # layer1 is augmented but frozen
    bn = model.layer4[0].bn2
    conv_channels = model.layer4[0].conv2.conv.out_channels
    before = bn.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert (bn.running_mean[conv_channels:] != before[conv_channels:]).all()
    assert not model.train(False).layer4[0].bn2.training


@pytest.mark.slow  # dynamo traces the 50 layers at two sizes
def test_compiles_without_graph_breaks_like_eager(aa_r50):
    assert_compiles_like_eager(aa_r50, [(torch.randn(1, 3, 64, 64),), (torch.randn(1, 3, 96, 72),)])
