"""FocalTransformer against the official Focal Transformer's own outputs.

The golden files in ``tests/data/focal_official`` were written by running the
official classification model (microsoft/Focal-Transformer@57bb303) at a
reduced size with perturbed weights; their README says how. Here the official
state dict goes through the project's converter (``init_cfg=dict(type=
'Pretrained')``, the path ``tools/model_converters/focal2mmfreq.py`` takes)
into ``FocalTransformer`` and every stage's output is compared with the
official one, for the patch stem and the "useconv" stem.
"""
from pathlib import Path

import pytest
import torch

from mmfreq.models import FocalTransformer, convert_focal_state_dict

GOLDEN = Path(__file__).parent / 'data' / 'focal_official'
STEMS = {'patch': 'focal_mini', 'conv': 'focal_mini_conv'}


def load_golden(stem: str) -> tuple:
    """(path of the official checkpoint, the official outputs) for ``stem``."""
    name = STEMS[stem]
    outputs = torch.load(GOLDEN / f'{name}_outputs.pt', weights_only=True)
    return GOLDEN / f'{name}_official.pth', outputs


def build(outputs: dict, checkpoint: Path = None) -> FocalTransformer:
    init_cfg = dict(type='Pretrained', checkpoint=str(checkpoint)) if checkpoint else None
    model = FocalTransformer(dict(outputs['arch']), use_conv_embed=outputs['use_conv_embed'],
                             drop_path_rate=0.0, init_cfg=init_cfg).eval()
    model.init_weights()
    return model


def official_stage_outputs(model: FocalTransformer, outputs: dict) -> list:
    """The official outputs as (B, C, H, W) maps: stages 1-3 through mmfreq's own
    norm of that stage (the official model has none there), stage 4 the
    official final norm."""
    maps = []
    for i, tokens in enumerate(outputs['stage_tokens']):
        if i == len(outputs['stage_tokens']) - 1:
            tokens = outputs['final_norm']
        else:
            tokens = getattr(model, f'norm{i}')(tokens)
        b, n, c = tokens.shape
        side = int(n**0.5)
        maps.append(tokens.transpose(1, 2).reshape(b, c, side, side))
    return maps


@pytest.mark.parametrize('stem', list(STEMS))
def test_converted_official_weights_reproduce_the_official_outputs(stem):
    path, outputs = load_golden(stem)
    model = build(outputs, path)
    with torch.no_grad():
        got = model(outputs['input'])
        expected = official_stage_outputs(model, outputs)
    assert len(got) == len(expected) == 4
    for i, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape, (i, a.shape, b.shape)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4,
                                   msg=lambda m, i=i: f'stage {i}: {m}')


def test_two_swapped_position_tables_are_caught():
    """The comparison above sees a wrong mapping of one bias table: the
    fixture's tables are perturbed, so swapping two blocks' ring tables
    moves stage 3's output well beyond its tolerance (1e-4; 2e-3 measured)."""
    path, outputs = load_golden('patch')
    state = convert_focal_state_dict(torch.load(path, weights_only=True)['model'])
    table = 'layers.2.blocks.{}.attn.relative_position_bias_table_to_neighbors'
    state[table.format(0)], state[table.format(1)] = state[table.format(1)], state[table.format(0)]
    model = build(outputs)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert unexpected == ['head.weight', 'head.bias']
    assert all(k.startswith(('norm0.', 'norm1.', 'norm2.')) for k in missing), missing
    with torch.no_grad():
        got = model(outputs['input'])[2]
        expected = official_stage_outputs(model, outputs)[2]
    assert (got - expected).abs().max() > 1e-3
