"""Running mmengine's Runner, single-process or distributed, on a machine without CUDA."""
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dist import all_reduce_params, is_distributed
from mmengine.hooks import Hook
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner


def adapt_to_device(cfg: Config, launcher: str) -> None:
    """Make a GPU-minded config launch on a machine without CUDA.

    A distributed launch uses the gloo backend and DDP without device ids
    (mmengine assumes one CUDA device per process). Only the config changes:
    :class:`CPURunner` starts the process group and reverts SyncBN to BN.

    Args:
        cfg (Config): The full config, changed in place.
        launcher (str): The ``--launcher`` of the tool.
    """
    if torch.cuda.is_available() or launcher == 'none':
        return
    cfg.setdefault('env_cfg', ConfigDict()).setdefault('dist_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper


class CPURunner(Runner):
    """mmengine's Runner for a machine without CUDA.

    SyncBN is reverted to BN as soon as the model is built: SyncBN's forward
    needs CUDA, and mmengine reverts it itself only when not distributed (a
    gloo launch would fail at the first step). A distributed launch starts
    its process group here, from the environment the launcher set, because
    mmengine's ``init_dist`` first calls ``torch.cuda.set_device``.
    """

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not is_distributed():
            backend = env_cfg.get('dist_cfg', {}).get('backend', 'gloo')
            torch.distributed.init_process_group(backend=backend)
        super().setup_env(env_cfg)

    def build_model(self, model: object) -> torch.nn.Module:
        return revert_sync_batchnorm(super().build_model(model))


class SyncBuffersEveryIterHook(Hook):
    """Average the model's buffers (BN running statistics) over the ranks after
    every training iteration, so every validation and every checkpoint sees one
    model.

    DDP keeps the parameters equal but not the buffers (mmengine wraps with
    ``broadcast_buffers=False``), and plain BN, what SyncBN becomes on CPU,
    updates its statistics from each rank's own batch. mmengine's
    ``SyncBuffersHook`` averages only after a training epoch or before a
    validation, which in an iteration-based loop is after that iteration's
    checkpoint was saved from rank 0's statistics. The running statistics are
    exponential moving averages, linear in the batch statistics, so averaging
    them every iteration gives the same model as averaging them once before
    use; its cost is one all-reduce of the buffers.
    """

    priority = 'ABOVE_NORMAL'  # before EMA (NORMAL) and checkpoint (VERY_LOW) hooks

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch: object = None,
                         outputs: object = None) -> None:
        all_reduce_params(runner.model.buffers(), op='mean')
