"""Checks the tests share for ``torch.compile``: graph breaks named by their
source line, and compiled outputs (and gradients) equal to eager."""
from typing import List, Sequence

import torch


def graph_breaks(module: torch.nn.Module, *inputs) -> List[str]:
    """``torch._dynamo.explain``'s graph breaks of ``module(*inputs)``, each as
    its reason and the innermost source line."""
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(module)(*inputs)
    torch._dynamo.reset()
    return [f'{r.reason} at {r.user_stack[-1].filename}:{r.user_stack[-1].lineno}'
            if r.user_stack else r.reason for r in explanation.break_reasons]


def as_tuple(outputs) -> tuple:
    """A module's output (a tensor or a sequence of them) as a tuple."""
    return (outputs,) if isinstance(outputs, torch.Tensor) else tuple(outputs)


def assert_compiles_like_eager(module: torch.nn.Module, inputs_by_size: Sequence[tuple],
                               backend: str = 'eager', backward: bool = False,
                               max_compilations: int = 2) -> None:
    """Compiled equals eager within 1e-4 for each input (with ``backward`` also
    the parameters' gradients); one graph for the first input (else fail
    naming the graph breaks), at most ``max_compilations`` in all. A parameter
    that one input leaves unused (a ring bias of a stage no larger than its
    window) must be unused by both.

    Raises:
        AssertionError: naming the graph breaks, the differing output or the
            number of compilations.
    """
    from torch._dynamo.testing import CompileCounterWithBackend

    torch._dynamo.reset()
    counter = CompileCounterWithBackend(backend)
    compiled = torch.compile(module, backend=counter)
    params = list(module.parameters())
    for i, inputs in enumerate(inputs_by_size):
        with torch.set_grad_enabled(backward):
            # eager first: a training-mode pass updates norm statistics in place
            expected = as_tuple(module(*inputs))
            grads = [torch.randn_like(o) for o in expected]
            expected_grads = (torch.autograd.grad(expected, params, grads, allow_unused=True)
                              if backward else [])
            got = as_tuple(compiled(*inputs))
        if i == 0 and counter.frame_count != 1:
            raise AssertionError(f'graph breaks: {graph_breaks(module, *inputs)}')
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        if backward:
            got_grads = torch.autograd.grad(got, params, grads, allow_unused=True)
            for a, b in zip(got_grads, expected_grads):
                assert (a is None) == (b is None), 'a gradient is missing on one side'
                if a is not None:
                    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert counter.frame_count <= max_compilations, (
        f'{counter.frame_count} compilations for {len(inputs_by_size)} input sizes')
    torch._dynamo.reset()
