"""Eval outputs follow the weights however they are swapped in: by ``.data.copy_``
(which leaves a tensor's version counter alone), by ``load_state_dict``, and
through mmengine's ``EMAHook``, which swaps the averaged weights in before
validation and back after it."""
from types import SimpleNamespace
from typing import Callable, Dict, Tuple

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import EMAHook

from mmfreq.models.layers import AttInvAttention, FocalAttention, FreqScale

# name -> (builder, input shape); small, but large enough for every code path
# (FocalAttention: a ring and pooled windows; FreqScale: a resized basis)
LAYERS: Dict[str, Tuple[Callable[[], nn.Module], Tuple[int, ...]]] = {
    'FreqScale': (lambda: FreqScale(32, groups=4, basis_size=6), (2, 12, 10, 32)),
    'AttInv': (lambda: AttInvAttention(32, 4), (2, 20, 32)),
    'FocalAttention': (lambda: FocalAttention(32, 4, att_inv=True), (1, 15, 22, 32)),
}


def built_with_weights(name: str, seed: int) -> nn.Module:
    """The layer in eval mode with every parameter drawn from N(0, 0.5^2) by ``seed``
    (the initial FDAM gammas and FreqScale bases are too small to see a swap)."""
    layer = LAYERS[name][0]().eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in layer.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    return layer


def eval_output(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return layer(x)


def swap_by_data_copy(layer: nn.Module, weights: Dict[str, torch.Tensor]) -> None:
    for name, param in layer.named_parameters():
        param.data.copy_(weights[name])


def swap_by_load_state_dict(layer: nn.Module, weights: Dict[str, torch.Tensor]) -> None:
    layer.load_state_dict(weights)


@pytest.mark.parametrize('swap', [swap_by_data_copy, swap_by_load_state_dict])
@pytest.mark.parametrize('name', sorted(LAYERS))
def test_eval_output_follows_swapped_weights(name, swap):
    x = torch.randn(LAYERS[name][1], generator=torch.Generator().manual_seed(2))
    layer = built_with_weights(name, seed=0)
    before = eval_output(layer, x)  # fills whatever a layer keeps between calls
    fresh = built_with_weights(name, seed=1)
    expected = eval_output(fresh, x)
    assert (expected - before).abs().max() > 1e-2  # the swap must be visible
    swap(layer, fresh.state_dict())
    torch.testing.assert_close(eval_output(layer, x), expected)


@pytest.mark.parametrize('name', sorted(LAYERS))
def test_eval_output_follows_ema_hook_swaps(name):
    """Validation under EMAHook runs the averaged weights, training the live ones."""
    x = torch.randn(LAYERS[name][1], generator=torch.Generator().manual_seed(2))
    layer = built_with_weights(name, seed=0)
    live = eval_output(layer, x)
    hook, runner = EMAHook(), SimpleNamespace(model=layer)
    hook.before_run(runner)  # builds the ExponentialMovingAverage copy
    averaged = built_with_weights(name, seed=1)
    hook.ema_model.module.load_state_dict(averaged.state_dict())
    expected = eval_output(averaged, x)
    hook.before_val_epoch(runner)
    torch.testing.assert_close(eval_output(layer, x), expected)
    hook.after_val_epoch(runner)
    torch.testing.assert_close(eval_output(layer, x), live)
