from .correlation_baselines import correlation_matmul_gather, correlation_unfold
from .complexity import (CORRELATION_OP, Complexity, correlation_flop_jit, measure_complexity,
                         motion_squeeze_flops, register_flop_counts)

__all__ = [
    'CORRELATION_OP', 'Complexity', 'correlation_flop_jit', 'measure_complexity',
    'correlation_matmul_gather', 'correlation_unfold', 'motion_squeeze_flops',
    'register_flop_counts'
]
