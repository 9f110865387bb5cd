from .atomic_checkpoint import AtomicCheckpointHook
from .cpu_amp import CPUAmpOptimWrapper
from .random_state import RandomStateHook

__all__ = ['AtomicCheckpointHook', 'CPUAmpOptimWrapper', 'RandomStateHook']
