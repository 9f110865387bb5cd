"""The compiled CPU kernel of ``msnet_mmaction::local_correlation`` (float32/float64, dilation 1).

The kernel is ``csrc/correlation_cpu.cpp``, built and loaded by :mod:`.cpu_library`. It reads its
inputs with any strides, writes the output channels-last and each input gradient in its input's
layout, and allocates nothing batch-sized besides them.
"""
import ctypes
from typing import Optional, Tuple

import torch
from torch import Tensor

from .cpu_library import CpuLibrary, check, kernel_of

DTYPES = {torch.float32: 'f32', torch.float64: 'f64'}


class CorrelationKernel:
    """The correlation functions of a :class:`~.cpu_library.CpuLibrary`. ``a``, ``b`` and the input
    gradients are (N, C, H, W) with any strides; the output and its gradient are contiguous
    channels-last (N, H, W, P * P) tensors."""

    def __init__(self, library: CpuLibrary) -> None:
        size, pointer = ctypes.c_int64, ctypes.c_void_p
        self._forward = {dtype: library.function(f'msnet_correlation_forward_{suffix}',
                                                  [pointer] * 5 + [size] * 5 + [ctypes.c_int])
                         for dtype, suffix in DTYPES.items()}
        self._backward = {dtype: library.function(f'msnet_correlation_backward_{suffix}',
                                                   [pointer] * 9 + [size] * 5 + [ctypes.c_int])
                          for dtype, suffix in DTYPES.items()}

    def forward(self, a: Tensor, b: Tensor, out: Tensor, max_displacement: int) -> None:
        """a, b: (N, C, H, W); out: contiguous (N, H, W, P * P)."""
        check(self._forward[a.dtype](*_tensor_args(a), *_tensor_args(b), out.data_ptr(), *a.shape,
                                     max_displacement, torch.get_num_threads()), 'correlation')

    def backward(self, a: Tensor, b: Tensor, grad: Tensor, grad_a: Optional[Tensor],
                 grad_b: Optional[Tensor], max_displacement: int) -> None:
        """a, b: (N, C, H, W); grad: contiguous (N, H, W, P * P); grad_a, grad_b: (N, C, H, W)
        without overlapping elements, or None where not wanted."""
        check(self._backward[a.dtype](*_tensor_args(a), *_tensor_args(b), grad.data_ptr(),
                                      *_tensor_args(grad_a), *_tensor_args(grad_b), *a.shape,
                                      max_displacement, torch.get_num_threads()), 'correlation')


def _tensor_args(x: Optional[Tensor]) -> tuple:
    """Data pointer and element strides of a 4-d tensor; two nulls for None."""
    if x is None:
        return None, None
    return x.data_ptr(), (ctypes.c_int64 * 4)(*x.stride())


def cpu_kernel() -> Optional[CorrelationKernel]:
    """The compiled correlation; None where the hand-written kernels are off or unavailable."""
    return kernel_of(CorrelationKernel)


def supports(a: Tensor, dilation: int) -> bool:
    """Whether the kernel takes (N, C, H, W) CPU features ``a``: float32 or float64, dilation 1,
    and the compiled library at hand."""
    return a.dtype in DTYPES and dilation == 1 and cpu_kernel() is not None


def forward(a: Tensor, b: Tensor, max_displacement: int) -> Tensor:
    """The (N, P * P, H, W) channels-last correlation volume of ``a`` and ``b``."""
    n, _, h, w = a.shape
    out = a.new_empty((n, h, w, (2 * max_displacement + 1)**2))
    cpu_kernel().forward(a, b, out, max_displacement)
    return out.permute(0, 3, 1, 2)


def backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int) -> Tuple[Tensor, Tensor]:
    """The gradients for ``a`` and ``b``, each laid out like its input, from the volume's
    (N, P * P, H, W) gradient."""
    grad_a, grad_b = torch.empty_like(a), torch.empty_like(b)
    cpu_kernel().backward(a, b, grad.permute(0, 2, 3, 1).contiguous(), grad_a, grad_b,
                          max_displacement)
    return grad_a, grad_b
