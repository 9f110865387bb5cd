from .atomic_checkpoint import AtomicCheckpointHook, CheckpointSaveError
from .checkpoint_integrity import (DamagedCheckpointError, check_checkpoint,
                                   check_resume_checkpoint, checkpoint_problem)
from .cpu_amp import CPUAmpOptimWrapper
from .malloc import keep_freed_memory
from .nonfinite_loss import NonFiniteLossError, NonFiniteLossHook
from .random_state import RandomStateHook

__all__ = [
    'AtomicCheckpointHook', 'CPUAmpOptimWrapper', 'CheckpointSaveError', 'DamagedCheckpointError',
    'NonFiniteLossError', 'NonFiniteLossHook', 'RandomStateHook', 'check_checkpoint',
    'check_resume_checkpoint', 'checkpoint_problem', 'keep_freed_memory'
]
