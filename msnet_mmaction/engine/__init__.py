from .atomic_checkpoint import AtomicCheckpointHook
from .cpu_amp import CPUAmpOptimWrapper
from .malloc import keep_freed_memory
from .random_state import RandomStateHook

__all__ = ['AtomicCheckpointHook', 'CPUAmpOptimWrapper', 'RandomStateHook',
           'keep_freed_memory']
