"""AtomicCheckpointHook's hold on mmengine's private CheckpointHook methods."""
import inspect
from typing import Callable, Tuple

import pytest
from mmengine.hooks import CheckpointHook

from mmfreq.engine.atomic_checkpoint_hook import MMENGINE_PRIVATE_METHODS, AtomicCheckpointHook


def parameter_names(method: Callable) -> Tuple[str, ...]:
    return tuple(inspect.signature(method).parameters)


@pytest.mark.parametrize('name, expected', MMENGINE_PRIVATE_METHODS)
def test_mmengine_has_each_private_method_the_hook_relies_on_as_expected(name, expected):
    assert hasattr(CheckpointHook, name), f'mmengine no longer has CheckpointHook.{name}'
    assert parameter_names(getattr(CheckpointHook, name)) == expected
    if name in vars(AtomicCheckpointHook):
        assert parameter_names(getattr(AtomicCheckpointHook, name)) == expected


def test_every_private_method_the_hook_overrides_is_in_the_table():
    overridden = {name for name in vars(AtomicCheckpointHook)
                  if name.startswith('_') and not name.startswith('__')
                  and hasattr(CheckpointHook, name)}
    assert overridden <= {name for name, _ in MMENGINE_PRIVATE_METHODS}
    assert overridden  # the hook does override some: the check above can fail
