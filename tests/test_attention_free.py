"""The attention-free networks that bound the benchmark ratios skip the
attention and nothing else: a stand-in that skipped a shared layer too would
report a bound below what is reachable."""
from typing import Set

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmfreq.models import VAN, AAResNet, FocalTransformer
from mmfreq.reference import make_attention_free

# what each family's attention runs besides its input and output projections
ATTENTION_PARTS = {
    'van': ('lka.conv0', 'lka.conv_spatial', 'lka.conv1'),
    'focal': ('pool_layers.0',),
    'aa': (),
}


def build(family: str) -> nn.Module:
    torch.manual_seed(0)
    if family == 'van':
        return VAN(arch='b0')
    if family == 'focal':
        return FocalTransformer('tiny', expand_sizes=(3, 3, 3, 3), drop_path_rate=0.0)
    return AAResNet(50, stage_with_aa=(False, False, True, True))


def layers_run(model: nn.Module, x: torch.Tensor) -> Set[str]:
    """Names of the leaf modules a forward and backward pass of ``model`` calls."""
    called = set()
    handles = [m.register_forward_hook(lambda *_, name=name: called.add(name))
               for name, m in model.named_modules() if not list(m.children())]
    outputs = model(x)
    sum(o.sum() for o in outputs).backward()
    for handle in handles:
        handle.remove()
    return called


@pytest.mark.parametrize('family', sorted(ATTENTION_PARTS))
@pytest.mark.parametrize('size', [(64, 64), (45, 71)])
def test_attention_free_network_runs_every_layer_but_the_attention(family, size,
                                                                   monkeypatch):
    x = torch.randn(1, 3, *size)
    model = build(family).train()
    expected_shapes = [o.shape for o in model(x)]
    full = layers_run(model, x)
    attention = {name for name in full if name.endswith(ATTENTION_PARTS[family])}
    assert bool(attention) == bool(ATTENTION_PARTS[family])

    attention_products = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(F, 'scaled_dot_product_attention',
                        lambda *a, **k: attention_products.append(1) or sdpa(*a, **k))
    free = layers_run(make_attention_free(model), x)
    assert free == full - attention
    assert not attention_products
    assert [o.shape for o in model(x)] == expected_shapes
