"""StarReLU (Yu et al., "MetaFormer Baselines for Vision"): ``s * relu(x)^2 + b``."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class StarReLU(nn.Module):
    """``scale * relu(x) ** 2 + bias`` with a learnable scalar scale and bias.

    FDAM uses it in front of its dynamic gates (AttInv) and routers
    (FreqScale); the parameter names ``scale`` / ``bias`` match FDAM's.
    """

    def __init__(self, scale: float = 1.0, bias: float = 0.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((1,), scale))
        self.bias = nn.Parameter(torch.full((1,), bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.relu(x) ** 2 + self.bias
