from .inference import inference_model, init_model
from .runner import build_dataloader_from_config, build_model_from_config, build_runner

__all__ = ['build_dataloader_from_config', 'build_model_from_config', 'build_runner',
           'inference_model', 'init_model']
