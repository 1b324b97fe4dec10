"""Running mmengine's Runner, single-process or distributed, on a machine without CUDA."""
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dist import all_reduce_params, is_distributed
from mmengine.hooks import Hook
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner


def adapt_to_device(cfg: Config, launcher: str) -> None:
    """Make a GPU-minded ``cfg`` (changed in place) launch with ``launcher`` on
    a machine without CUDA: gloo, and DDP without device ids. :class:`CPURunner`
    does the rest."""
    if torch.cuda.is_available() or launcher == 'none':
        return
    cfg.setdefault('env_cfg', ConfigDict()).setdefault('dist_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper


class CPURunner(Runner):
    """mmengine's Runner for a machine without CUDA: SyncBN becomes BN once the
    model is built (mmengine reverts it only when not distributed), and a
    distributed launch starts its process group here (mmengine's ``init_dist``
    calls ``torch.cuda.set_device``)."""

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not is_distributed():
            backend = env_cfg.get('dist_cfg', {}).get('backend', 'gloo')
            torch.distributed.init_process_group(backend=backend)
        super().setup_env(env_cfg)

    def build_model(self, model: object) -> torch.nn.Module:
        return revert_sync_batchnorm(super().build_model(model))


class SyncBuffersEveryIterHook(Hook):
    """Average the model's buffers (BN running statistics) over the ranks after
    every training iteration, where mmengine's ``SyncBuffersHook`` averages
    only before validation, after the checkpoint was saved: see "One model
    across distributed ranks" in docs/reliability.md."""

    priority = 'ABOVE_NORMAL'  # before EMA (NORMAL) and checkpoint (VERY_LOW) hooks

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch: object = None,
                         outputs: object = None) -> None:
        all_reduce_params(runner.model.buffers(), op='mean')
