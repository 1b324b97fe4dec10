from .complexity import append_result, compare_latency, peak_memory_mb, run_once

__all__ = ['append_result', 'compare_latency', 'peak_memory_mb', 'run_once']
