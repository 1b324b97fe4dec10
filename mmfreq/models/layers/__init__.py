from .aa_conv import AAConv2d
from .att_inv import AttInv, AttInvAttention
from .focal_attention import FocalAttention
from .freq_scale import FreqScale, add_freq_scale
from .lka import LargeKernelAttention, LKAAttention
from .star_relu import StarReLU

__all__ = ['AAConv2d', 'AttInv', 'AttInvAttention', 'FocalAttention', 'FreqScale',
           'LargeKernelAttention', 'LKAAttention', 'StarReLU', 'add_freq_scale']
