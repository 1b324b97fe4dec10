"""Each FDAM block against its formula written out by hand, with parts that
differ from one another, so a block that applies a part in the wrong place
(the attention's FreqScale after the MLP, say) gives another output."""
import pytest
import torch

from mmfreq.models.backbones.fdam_mit import FDAMMiTBlock
from mmfreq.models.layers.vit_parts import FDAMBlock


def _distinct(block: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter drawn anew: the two FreqScales (basis at init std 1e-5,
    so almost zero) and the two layer scales get values far apart."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in block.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    return block.eval()


def _freq_scaled(y: torch.Tensor, freq_scale: torch.nn.Module, hw: tuple) -> torch.Tensor:
    b, _, c = y.shape
    return y + freq_scale(y.reshape(b, *hw, c)).reshape(y.shape)


@pytest.mark.parametrize('hw, sr_ratio', [((5, 7), 1), ((6, 9), 2)])
def test_mit_block_is_its_formula(hw, sr_ratio):
    block = _distinct(FDAMMiTBlock(16, 2, 32, sr_ratio=sr_ratio,
                                   freq_scale_cfg=dict(groups=4, num_filters=2)), 0)
    x = torch.randn(2, hw[0] * hw[1], 16)
    with torch.no_grad():
        y = _freq_scaled(block.attn(block.norm1(x), hw), block.attn_freq_scale, hw)
        x1 = x + y
        z = _freq_scaled(block.ffn(block.norm2(x1), hw), block.ffn_freq_scale, hw)
        torch.testing.assert_close(block(x, hw), x1 + z)


@pytest.mark.parametrize('prefix', [0, 1])
def test_vit_block_is_its_formula(prefix):
    hw = (5, 7)
    block = _distinct(FDAMBlock(16, 2, 32, layer_scale_init=1e-4, num_prefix_tokens=prefix,
                                freq_scale_cfg=dict(groups=4, num_filters=2)), 1)
    x = torch.randn(2, prefix + hw[0] * hw[1], 16)

    def freq_scaled(y, freq_scale):  # the class token passes the FreqScale untouched
        return torch.cat([y[:, :prefix], _freq_scaled(y[:, prefix:], freq_scale, hw)], dim=1)

    with torch.no_grad():
        x1 = x + block.gamma_1 * freq_scaled(block.attn(block.norm1(x)), block.attn_freq_scale)
        z = freq_scaled(block.ffn(block.norm2(x1)), block.ffn_freq_scale)
        torch.testing.assert_close(block(x, hw), x1 + block.gamma_2 * z)
