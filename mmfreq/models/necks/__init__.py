from .fdam_neck import FDAMNeck

__all__ = ['FDAMNeck']
