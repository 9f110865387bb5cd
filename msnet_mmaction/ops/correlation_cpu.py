"""The compiled CPU path of :func:`~msnet_mmaction.ops.local_correlation` (dilation 1).

The kernel is ``csrc/correlation_cpu.cpp``, built and loaded by :mod:`.cpu_library`.
"""
import ctypes
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .cpu_library import CpuLibrary, check, kernel_of, usable

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
    """The compiled correlation; None where the compiled kernels are off or unavailable."""
    return kernel_of(CorrelationKernel)


def compiled_kernel_for(a: Tensor, dilation: int) -> Optional[CorrelationKernel]:
    """The compiled kernel where it applies to ``a`` (float32/float64, dilation 1), else None."""
    if not usable(a) or a.dtype not in DTYPES or dilation != 1:
        return None
    return cpu_kernel()


def to_channels_last(x: Tensor) -> Tensor:
    """(N, C, H, W) -> contiguous (N, H, W, C); free for channels_last tensors."""
    return x.permute(0, 2, 3, 1).contiguous()


class CompiledCorrelation(torch.autograd.Function):
    """``local_correlation`` with dilation 1 through a :class:`CorrelationKernel`."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, max_displacement: int,
                kernel: CorrelationKernel) -> Tensor:
        n, _, h, w = a.shape
        p = 2 * max_displacement + 1
        out = a.new_empty((n, h, w, p * p))
        kernel.forward(a, b, out, max_displacement)
        ctx.save_for_backward(a, b)
        ctx.max_displacement, ctx.kernel = max_displacement, kernel
        return out.permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        a, b = ctx.saved_tensors
        # Each input's gradient in that input's memory format, as autograd would lay it out.
        grad_a = torch.empty_like(a) if ctx.needs_input_grad[0] else None
        grad_b = torch.empty_like(b) if ctx.needs_input_grad[1] else None
        ctx.kernel.backward(a, b, to_channels_last(grad_out), grad_a, grad_b, ctx.max_displacement)
        return grad_a, grad_b, None, None
