"""Evaluation metrics registered in the mmfreq scope (``mmfreq.registry.METRICS``
imports this package on the first use of e.g. ``mmfreq.BoundaryIoUMetric``)."""
from .boundary_iou import BoundaryIoUMetric, boundary_intersect_and_union, boundary_width

__all__ = ['BoundaryIoUMetric', 'boundary_intersect_and_union', 'boundary_width']
