"""Export of mmfreq models (ONNX), shared by ``tools/deployment/pytorch2onnx.py``
and ``tools/analysis_tools/benchmark_onnx.py``."""
from .onnx import ExportError, NormalizedInput, build_exportable, check_export, export_onnx

__all__ = ['ExportError', 'NormalizedInput', 'build_exportable', 'check_export', 'export_onnx']
