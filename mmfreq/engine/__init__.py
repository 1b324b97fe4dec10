from .atomic_checkpoint_hook import AtomicCheckpointHook, use_atomic_checkpoints
from .layer_decay import LayerDecayOptimWrapperConstructor, layer_id_for_vit
from .preemption import PREEMPTED_EXIT_CODE, PreemptionHook, TrainingPreempted
from .resume import ResumeCheckHook, ResumeError, resume_point

__all__ = ['PREEMPTED_EXIT_CODE', 'AtomicCheckpointHook', 'LayerDecayOptimWrapperConstructor',
           'PreemptionHook', 'ResumeCheckHook', 'ResumeError', 'TrainingPreempted',
           'layer_id_for_vit', 'resume_point', 'use_atomic_checkpoints']
