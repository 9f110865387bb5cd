"""MotionSqueeze's operators: ``msnet_mmaction::local_correlation`` and
``msnet_mmaction::kernel_soft_argmax`` (each with its backward operator), their reference
formulations, and ``x + relu(z)`` with a one-byte mask for backward."""
from .correlation import IMPLEMENTATIONS, local_correlation
from .kernel_switch import KERNELS_ENV, kernels_enabled
from .rectified_add import add_rectified
from .soft_argmax import kernel_soft_argmax
from .soft_argmax_reference import displacement_grid

__all__ = [
    'IMPLEMENTATIONS', 'KERNELS_ENV', 'add_rectified', 'displacement_grid', 'kernel_soft_argmax',
    'kernels_enabled', 'local_correlation'
]
