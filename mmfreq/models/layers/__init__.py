from .lka import LargeKernelAttention, LKAAttention

__all__ = ['LargeKernelAttention', 'LKAAttention']
