"""Checks of activation checkpointing (``with_cp``): the same numbers, fewer
tensors kept for the backward pass."""
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn as nn


def saved_tensor_bytes(run: Callable[[], torch.Tensor]) -> Tuple[torch.Tensor, int]:
    """Call ``run`` and count the bytes autograd keeps for the backward pass.

    Every tensor the graph saves passes through the pack hook of
    ``torch.autograd.graph.saved_tensors_hooks`` once, except inside a
    non-reentrant ``torch.utils.checkpoint`` region, whose own hooks keep
    nothing but the region's inputs. Parameters count too (they are the same
    with and without checkpointing).

    Returns:
        The output of ``run`` and the bytes of the tensors saved for its backward.
    """
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run()
    return out, total


def assert_checkpointing_is_exact_and_smaller(build: Callable[[bool], nn.Module],
                                              inputs: Tuple[torch.Tensor, ...],
                                              max_ratio: float) -> Dict[bool, int]:
    """Assert that ``build(True)`` (``with_cp`` on) gives ``build(False)``'s
    outputs and gradients on ``inputs`` in train mode, from the same random
    state, saving at most ``max_ratio`` times its bytes for the backward pass;
    return the saved bytes by ``with_cp``."""
    results, saved = {}, {}
    for with_cp in (False, True):
        model = build(with_cp).train()
        torch.manual_seed(0)  # the same drop-path masks on both runs
        outs, saved[with_cp] = saved_tensor_bytes(lambda m=model: m(*inputs))
        outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
        gen = torch.Generator().manual_seed(1)
        weights = [torch.randn(o.shape, generator=gen) for o in outs]
        sum((o * w).sum() for o, w in zip(outs, weights)).backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
        results[with_cp] = ([o.detach() for o in outs], grads)
    (plain_outs, plain_grads), (cp_outs, cp_grads) = results[False], results[True]
    for a, b in zip(cp_outs, plain_outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert cp_grads.keys() == plain_grads.keys()
    missing = sorted(n for n, g in plain_grads.items() if (g is None) != (cp_grads[n] is None))
    assert not missing, f'gradient present in one run only: {missing}'
    differ: List[str] = []
    for name, g in plain_grads.items():
        if g is not None and not torch.allclose(cp_grads[name], g, rtol=1e-4,
                                                atol=1e-6 * g.abs().max().item() + 1e-9):
            differ.append(name)
    assert not differ, f'gradients differ with with_cp=True: {differ}'
    assert saved[True] <= max_ratio * saved[False], \
        f'with_cp=True saved {saved[True]} bytes, without {saved[False]}'
    return saved
