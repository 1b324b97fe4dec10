from .runner import (
                     DatasetNotFoundError,
                     adapt_to_device,
                     build_runner,
                     check_dataset_paths,
                     default_work_dir,
                     log_model_summary,
                     set_local_rank,
)

__all__ = ['DatasetNotFoundError', 'adapt_to_device', 'build_runner', 'check_dataset_paths',
           'default_work_dir', 'log_model_summary', 'set_local_rank']
