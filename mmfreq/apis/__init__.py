from .inference import inference_model, init_model
from .runner import (
    DatasetNotFoundError,
    adapt_to_device,
    allow_project_imports,
    build_model_from_config,
    build_runner,
    check_dataset_paths,
    default_work_dir,
    log_model_summary,
    replace_sync_bn,
    set_local_rank,
)

__all__ = ['DatasetNotFoundError', 'adapt_to_device', 'allow_project_imports',
           'build_model_from_config', 'build_runner', 'check_dataset_paths', 'default_work_dir',
           'inference_model', 'init_model', 'log_model_summary', 'replace_sync_bn',
           'set_local_rank']
