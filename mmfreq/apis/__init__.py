from mmfreq.engine.checkpoint_hook import CheckpointError, CheckpointLoadHook

from .inference import inference_model, init_model
from .runner import (
    CfgOptionError,
    CfgOptionsAction,
    DatasetNotFoundError,
    PreflightError,
    adapt_to_device,
    allow_project_imports,
    apply_cfg_options,
    build_model_from_config,
    build_runner,
    check_dataset_paths,
    default_work_dir,
    guard_pipelines,
    log_model_summary,
    preflight,
    set_local_rank,
)

__all__ = ['CfgOptionError', 'CfgOptionsAction', 'CheckpointError', 'CheckpointLoadHook',
           'DatasetNotFoundError', 'PreflightError', 'adapt_to_device', 'allow_project_imports',
           'apply_cfg_options', 'build_model_from_config', 'build_runner', 'check_dataset_paths',
           'default_work_dir', 'guard_pipelines', 'inference_model', 'init_model',
           'log_model_summary', 'preflight', 'set_local_rank']
