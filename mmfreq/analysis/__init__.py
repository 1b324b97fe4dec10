from .complexity import (
                         append_result,
                         compare_latency,
                         compare_models,
                         peak_memory_mb,
                         print_comparison,
                         run_once,
)
from .frequency import band_energy, effective_rank, layer_statistics, mean_abs_cosine

__all__ = ['append_result', 'band_energy', 'compare_latency', 'compare_models', 'effective_rank',
           'layer_statistics', 'mean_abs_cosine', 'peak_memory_mb', 'print_comparison',
           'run_once']
