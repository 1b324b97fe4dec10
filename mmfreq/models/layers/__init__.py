from .aa_conv import AAConv2d
from .lka import LargeKernelAttention, LKAAttention

__all__ = ['AAConv2d', 'LargeKernelAttention', 'LKAAttention']
