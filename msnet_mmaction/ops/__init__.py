"""MotionSqueeze's operators: ``msnet_mmaction::local_correlation`` and
``msnet_mmaction::kernel_soft_argmax`` (each with its backward operator), their reference
formulations, and ``x + relu(z)`` with a one-byte mask for backward.

Each operator's whole path is in its own module (registration, the one function that picks the
code path, the compiled CPU call), its ``_reference`` and ``_triton`` modules, and the shared
:mod:`.policy` and :mod:`.cpu_library`.
"""
from .kernel_soft_argmax import kernel_soft_argmax, kernel_soft_argmax_path
from .kernel_soft_argmax_reference import displacement_grid
from .local_correlation import local_correlation, local_correlation_path
from .policy import (CPU_KERNEL, IMPLEMENTATIONS, KERNELS_ENV, REFERENCE, TRITON, KernelPath,
                     kernels_enabled)
from .rectified_add import add_rectified

__all__ = [
    'CPU_KERNEL', 'IMPLEMENTATIONS', 'KERNELS_ENV', 'KernelPath', 'REFERENCE', 'TRITON',
    'add_rectified', 'displacement_grid', 'kernel_soft_argmax', 'kernel_soft_argmax_path',
    'kernels_enabled', 'local_correlation', 'local_correlation_path'
]
