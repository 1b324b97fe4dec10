"""Peak-memory measurement sees a pass's own allocation, not earlier ones, and
compiled variants travel to the measuring process."""
import functools
import pickle

import pytest
import torch
import torch.nn as nn

from mmfreq.analysis.benchmarking import Compiled, peak_memory_mb


class Allocates(nn.Module):
    def __init__(self, floats: int, at_build: int = 0) -> None:
        super().__init__()
        torch.ones(at_build).sum()  # a transient peak while building
        self.floats = floats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(self.floats).sum() + x.sum()


def build(floats: int, at_build: int = 0) -> nn.Module:
    return Allocates(floats, at_build)


@pytest.mark.slow  # each measurement is a fresh process that imports torch
def test_peak_memory_is_that_of_the_pass():
    small = peak_memory_mb(functools.partial(build, 5_000_000, 100_000_000), (1,))
    large = peak_memory_mb(functools.partial(build, 50_000_000), (1,))
    assert small == pytest.approx(5e6 * 4 / 2**20, abs=8)  # 19 MiB, not the 381 of the build
    assert large == pytest.approx(5e7 * 4 / 2**20, abs=8)


@pytest.mark.slow  # a fresh process, as above
def test_compiled_builder_pickles_and_its_memory_is_that_of_a_warm_pass():
    """The first pass of a compiled module compiles (and allocates for it); the
    measured pass is the next one."""
    compiled = Compiled(functools.partial(build, 5_000_000), backend='eager')
    module = pickle.loads(pickle.dumps(compiled))()
    assert isinstance(module, torch._dynamo.eval_frame.OptimizedModule)
    x = torch.randn(3)
    torch.testing.assert_close(module(x), module._orig_mod(x))
    assert peak_memory_mb(compiled, (1,)) == pytest.approx(5e6 * 4 / 2**20, abs=8)
