from .frequency import band_energy, effective_rank, layer_statistics, mean_abs_cosine

__all__ = ['band_energy', 'effective_rank', 'layer_statistics', 'mean_abs_cosine']
