"""Runner building (mmfreq.apis.runner, mmfreq.engine.cpu) and strict checkpoint
loading (mmfreq.engine.checkpoint_load_hook), in-process."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel, BaseTTAModel
from mmengine.runner import Runner
from torch import nn

from mmfreq.apis import build_model_from_config
from mmfreq.engine.checkpoint_load_hook import CheckpointLoadHook
from mmfreq.engine.cpu import CPURunner
from mmfreq.utils.collect_env import explain_missing_ops
from mmfreq.utils.weights import CheckpointError, diff_keys


class Toy(BaseModel):
    def __init__(self, channels: int = 4, norm: type = nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 1)
        self.bn = norm(channels)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.bn(self.conv(inputs))


def runner_for(model, tmp_path):
    return Runner(model=model, work_dir=str(tmp_path / 'work'))


def saved(tmp_path, state_dict, name='ckpt.pth'):
    path = tmp_path / name
    torch.save({'state_dict': state_dict, 'meta': {}}, path)
    return path


def test_fitting_checkpoint_loads(tmp_path):
    source = Toy()
    nn.init.normal_(source.conv.weight)
    path = saved(tmp_path, source.state_dict())
    runner = runner_for(Toy(), tmp_path)
    CheckpointLoadHook(str(path)).before_run(runner)
    assert torch.equal(runner.model.conv.weight, source.conv.weight)


def test_ddp_prefixed_checkpoint_fits(tmp_path):
    path = saved(tmp_path, {f'module.{k}': v for k, v in Toy().state_dict().items()})
    CheckpointLoadHook(str(path)).before_run(runner_for(Toy(), tmp_path))


class ToyTTA(BaseTTAModel):
    def merge_preds(self, data_samples_list):
        return data_samples_list[0]


def test_checkpoint_fits_the_model_inside_test_time_augmentation(tmp_path):
    """tools/test.py --tta tests a BaseTTAModel whose ``module`` is the model."""
    source = Toy()
    nn.init.normal_(source.conv.weight)
    path = saved(tmp_path, source.state_dict())
    runner = runner_for(ToyTTA(module=Toy()), tmp_path)
    CheckpointLoadHook(str(path)).before_run(runner)
    assert torch.equal(runner.model.module.conv.weight, source.conv.weight)


def test_checkpoint_of_another_model_is_refused_with_its_keys(tmp_path):
    other = nn.Sequential(nn.Conv2d(3, 4, 1))
    path = saved(tmp_path, other.state_dict())
    with pytest.raises(CheckpointError) as err:
        CheckpointLoadHook(str(path)).before_run(runner_for(Toy(), tmp_path))
    message = str(err.value)
    assert str(path) in message and '--non-strict' in message
    assert '6 missing keys: conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, ' \
           'bn.running_var' in message
    assert '2 unexpected keys: 0.weight, 0.bias' in message


def test_non_strict_loads_what_fits(tmp_path):
    source = Toy(channels=4)
    nn.init.normal_(source.conv.weight)
    state = dict(source.state_dict(), extra=torch.zeros(1))
    path = saved(tmp_path, state)
    runner = runner_for(Toy(), tmp_path)
    CheckpointLoadHook(str(path), strict=False).before_run(runner)
    assert torch.equal(runner.model.conv.weight, source.conv.weight)


class SeesLoadedCheckpoint(Hook):
    def after_load_checkpoint(self, runner, checkpoint):
        self.checkpoint = checkpoint


def test_fine_tuning_loads_at_train_start_after_the_models_own_initialisation(tmp_path):
    """mmengine runs before_run before init_weights: a load there would be overwritten."""
    source = Toy()
    nn.init.normal_(source.conv.weight)
    path = saved(tmp_path, {f'module.{k}': v for k, v in source.state_dict().items()})
    runner = runner_for(Toy(), tmp_path)
    seen = SeesLoadedCheckpoint()
    runner.register_hook(seen)
    hook = CheckpointLoadHook(str(path), training=True)
    hook.before_run(runner)
    assert not torch.equal(runner.model.conv.weight, source.conv.weight)
    hook.before_train(runner)
    assert torch.equal(runner.model.conv.weight, source.conv.weight)
    # other hooks (EMA) get the checkpoint as loaded: in the model's names
    assert set(seen.checkpoint['state_dict']) == set(source.state_dict())


def test_checkpoint_of_another_size_is_refused_before_loading_anything(tmp_path):
    path = saved(tmp_path, Toy(channels=5).state_dict())
    runner = runner_for(Toy(), tmp_path)
    before = runner.model.conv.bias.clone()
    with pytest.raises(CheckpointError) as err:
        CheckpointLoadHook(str(path)).before_run(runner)
    assert (err.value.source, err.value.layout) == (str(path), 'mmfreq names')
    assert err.value.keys[:2] == ['conv.weight', 'conv.bias']
    assert str(path) in str(err.value) and '6 shape mismatches: conv.weight' in str(err.value)
    assert torch.equal(runner.model.conv.bias, before)


def test_shape_mismatch_is_listed():
    mismatch = diff_keys(Toy(channels=4).state_dict(), Toy(channels=5).state_dict()).problems()
    assert mismatch == ['6 shape mismatches: conv.weight (5, 3, 1, 1) in the file, '
                        '(4, 3, 1, 1) in the model, conv.bias (5,) in the file, (4,) in the '
                        'model, bn.weight (5,) in the file, (4,) in the model, bn.bias (5,) in '
                        'the file, (4,) in the model, bn.running_mean (5,) in the file, (4,) '
                        'in the model, bn.running_var (5,) in the file, (4,) in the model']
    assert diff_keys(Toy().state_dict(), Toy().state_dict()).problems() == []


@pytest.mark.parametrize('cut', [0, 300])
def test_empty_and_truncated_files_are_named(tmp_path, cut):
    path = saved(tmp_path, Toy().state_dict())
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(CheckpointError) as err:
        CheckpointLoadHook(str(path)).before_run(runner_for(Toy(), tmp_path))
    assert err.value.source == str(path) and err.value.layout is None
    assert f'{path} is not a readable checkpoint ({cut} bytes' in str(err.value)


def test_cpu_runner_reverts_sync_bn(tmp_path):
    runner = CPURunner(model=Toy(norm=nn.SyncBatchNorm), work_dir=str(tmp_path))
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in runner.model.modules())
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in runner.model.modules())


def test_model_from_config_without_default_scope_is_refused(tmp_path):
    config = tmp_path / 'no_scope.py'
    config.write_text("model = dict(type='mmfreq.VAN', arch='b0')\n")
    with pytest.raises(ValueError, match=f'{config} has no default_scope'):
        build_model_from_config(str(config))


def test_registry_errors_pass_through_when_mmcv_ops_load():
    with pytest.raises(KeyError, match='Nope is not in'):
        with explain_missing_ops():
            raise KeyError('Nope is not in the mmseg::model registry')


def test_averaging_bn_statistics_every_step_equals_averaging_once():
    """Why SyncBuffersEveryIterHook may average after every iteration: the
    running statistics are linear in the batch statistics."""
    torch.manual_seed(0)
    batches = torch.randn(5, 2, 8, 4, 6, 6) * 3 + 1  # (steps, ranks, N, C, H, W)
    every_step = [nn.BatchNorm2d(4) for _ in range(2)]
    once = [nn.BatchNorm2d(4) for _ in range(2)]
    for step in batches:
        for rank in range(2):
            every_step[rank](step[rank])
            once[rank](step[rank])
        for name in ('running_mean', 'running_var'):
            mean = sum(getattr(bn, name) for bn in every_step) / 2
            for bn in every_step:
                setattr(bn, name, mean.clone())
    for name in ('running_mean', 'running_var'):
        averaged_once = (getattr(once[0], name) + getattr(once[1], name)) / 2
        assert not torch.allclose(getattr(once[0], name), getattr(once[1], name))
        torch.testing.assert_close(getattr(every_step[0], name), averaged_once)
