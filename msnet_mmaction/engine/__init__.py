from .cpu_amp import CPUAmpOptimWrapper
from .random_state import RandomStateHook

__all__ = ['CPUAmpOptimWrapper', 'RandomStateHook']
