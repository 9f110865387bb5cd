"""The local correlation (the cost volume of MotionSqueeze) as the PyTorch operator
``msnet_mmaction::local_correlation``, with its backward pass ``local_correlation_backward``.

Both are registered with :mod:`torch.library`: fake kernels give shapes and strides to
``torch.compile`` and ``torch.export`` without running anything, autograd calls the backward
operator, and under autocast the operators take float32 inputs. ``torch.compile`` and
``torch.export`` keep each operator as one node, so their graphs run the hand-written kernels.

:func:`local_correlation_path` alone decides which code computes a call, forward and backward:

* CPU, float32/float64 (half precision computed in float32), dilation 1: the compiled kernel of
  ``csrc/local_correlation_cpu.cpp``, called through :mod:`.cpu_library`;
* CUDA, float32/float16/bfloat16 (sums in float32), up to 256 channels: the Triton kernels of
  :mod:`.local_correlation_triton`;
* otherwise, and with ``MSNET_MMACTION_KERNELS=0``: the reference formulation of
  :mod:`.local_correlation_reference`.
"""
from typing import Tuple

import torch
from torch import Tensor

from . import local_correlation_reference as reference
from .cpu_library import DTYPE_SUFFIXES, cpu_library, tensor_args
from .policy import (CPU_KERNEL, REFERENCE, TRITON, KernelPath, check_implementation,
                     compute_dtype, reference_in_float32, register_float32, switched_off,
                     triton_refusal)

#: The dtypes the compiled CPU kernel takes.
CPU_DTYPES = tuple(DTYPE_SUFFIXES)


def local_correlation_path(a: Tensor, b: Tensor, max_displacement: int,
                           dilation: int) -> KernelPath:
    """Which code computes the correlation of ``a`` and ``b`` (N, C, H, W), forward and backward,
    in which dtype, and why."""
    off = switched_off()
    reason = off or triton_refusal(a.device)
    if reason is None:
        from . import local_correlation_triton
        reason = local_correlation_triton.refusal(a, b, max_displacement)
        if reason is None:
            return KernelPath(TRITON, a.dtype,
                              f'{a.dtype} on {a.device.type}, {a.shape[1]} channels')
    elif a.is_cpu and off is None:
        dtype = compute_dtype(a.dtype, CPU_DTYPES)
        if dtype not in CPU_DTYPES:
            reason = f'the compiled CPU kernel takes float32 and float64, not {a.dtype}'
        elif dilation != 1:
            reason = f'the compiled CPU kernel takes dilation 1, not {dilation}'
        elif cpu_library() is None:
            reason = 'the compiled CPU kernels could not be built (see the warning)'
        else:
            return KernelPath(CPU_KERNEL, dtype, f'{a.dtype} on the CPU, dilation 1')
    dtype = compute_dtype(a.dtype, CPU_DTYPES) if a.is_cpu else a.dtype
    return KernelPath(REFERENCE, dtype, reason)


def _cpu_forward(a: Tensor, b: Tensor, max_displacement: int) -> Tensor:
    n, c, h, w = a.shape
    out = a.new_empty((n, h, w, (2 * max_displacement + 1)**2))
    cpu_library().call(f'msnet_local_correlation_forward_{DTYPE_SUFFIXES[a.dtype]}',
                       *tensor_args(a), *tensor_args(b), out.data_ptr(), n, c, h, w,
                       max_displacement, torch.get_num_threads())
    return out.permute(0, 3, 1, 2)


def _cpu_backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int, needs_a: bool,
                  needs_b: bool) -> Tuple[Tensor, Tensor]:
    grad_a = torch.empty_like(a) if needs_a else None
    grad_b = torch.empty_like(b) if needs_b else None
    # Held in a name: the kernel gets a pointer, which does not keep a temporary alive.
    grad_cells = grad.permute(0, 2, 3, 1).contiguous()
    cpu_library().call(f'msnet_local_correlation_backward_{DTYPE_SUFFIXES[a.dtype]}',
                       *tensor_args(a), *tensor_args(b), grad_cells.data_ptr(),
                       *tensor_args(grad_a), *tensor_args(grad_b), *a.shape, max_displacement,
                       torch.get_num_threads())
    return grad_a, grad_b


@torch.library.custom_op('msnet_mmaction::local_correlation', mutates_args=())
def _local_correlation(a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
    path = local_correlation_path(a, b, max_displacement, dilation)
    x, y = a.to(path.dtype), b.to(path.dtype)
    if path.kernel == CPU_KERNEL:
        out = _cpu_forward(x, y, max_displacement)
    elif path.kernel == TRITON:
        from . import local_correlation_triton
        out = local_correlation_triton.forward(x, y, max_displacement, dilation)
    else:
        out = reference.local_correlation(x, y, max_displacement, dilation)
    return out.to(a.dtype)


@torch.library.custom_op('msnet_mmaction::local_correlation_backward', mutates_args=())
def _local_correlation_backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int,
                                dilation: int, needs_a: bool,
                                needs_b: bool) -> Tuple[Tensor, Tensor]:
    """The gradients for ``a`` and ``b``; an empty tensor for one not needed."""
    path = local_correlation_path(a, b, max_displacement, dilation)
    g, x, y = grad.to(path.dtype), a.to(path.dtype), b.to(path.dtype)
    if path.kernel == CPU_KERNEL:
        grads = _cpu_backward(g, x, y, max_displacement, needs_a, needs_b)
    elif path.kernel == TRITON:
        from . import local_correlation_triton
        grads = local_correlation_triton.backward(g, x, y, max_displacement, dilation, needs_a,
                                                  needs_b)
    else:
        grads = reference.local_correlation_backward(g, x, y, max_displacement, dilation,
                                                     needs_a, needs_b)
    return tuple(a.new_empty(0) if grad is None else grad.to(a.dtype) for grad in grads)


@_local_correlation.register_fake
def _fake(a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
    n, _, h, w = a.shape
    return a.new_empty((n, h, w, (2 * max_displacement + 1)**2)).permute(0, 3, 1, 2)


@_local_correlation_backward.register_fake
def _fake_backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int, dilation: int,
                   needs_a: bool, needs_b: bool) -> Tuple[Tensor, Tensor]:
    return (torch.empty_like(a) if needs_a else a.new_empty(0),
            torch.empty_like(b) if needs_b else b.new_empty(0))


def _setup_context(ctx, inputs: tuple, output: Tensor) -> None:
    a, b, max_displacement, dilation = inputs
    ctx.save_for_backward(a, b)
    ctx.settings = (max_displacement, dilation)


def _backward(ctx, grad: Tensor):
    a, b = ctx.saved_tensors
    needs_a, needs_b = ctx.needs_input_grad[:2]
    grad_a, grad_b = _local_correlation_backward(grad, a, b, *ctx.settings, needs_a, needs_b)
    return grad_a if needs_a else None, grad_b if needs_b else None, None, None


_local_correlation.register_autograd(_backward, setup_context=_setup_context)
register_float32(_local_correlation)
register_float32(_local_correlation_backward)


def local_correlation(a: Tensor,
                      b: Tensor,
                      max_displacement: int = 7,
                      dilation: int = 1,
                      *,
                      implementation: str = 'auto') -> Tensor:
    """Correlate every position of ``a`` with a (2d+1) x (2d+1) neighbourhood of ``b``.

    ``out[n, i * P + j, y, x] = sum_c a[n, c, y, x] * b[n, c, y + (i - d) s, x + (j - d) s]``
    with ``P = 2d + 1``, zero where the second position falls outside the map.

    Args:
        a (Tensor): Features of the first frames, shape (N, C, H, W).
        b (Tensor): Features of the second frames, shape (N, C, H, W).
        max_displacement (int): ``d``, the largest offset in grid steps. Defaults to 7.
        dilation (int): ``s``, pixels between neighbouring grid steps. Defaults to 1.
        implementation (str): ``'auto'`` calls the operator
            ``msnet_mmaction::local_correlation``, which runs the code
            :func:`local_correlation_path` names; ``'reference'`` computes the reference
            formulation with plain PyTorch operations, which ``torch.compile`` and the exporters
            trace into. Both give the same values up to floating-point rounding and compute in
            float32 under autocast. Defaults to ``'auto'``.

    Returns:
        Tensor: Shape (N, (2d+1)**2, H, W), displacement index ``k = i * (2d+1) + j``, stored
        channels-last.
    """
    check_implementation(implementation)
    # Under torch.jit.trace (MMEngine's FLOP counter) sizes are traced tensors, and comparing
    # them would warn that the trace records a constant; the check belongs to eager calls.
    if not torch.jit.is_tracing() and (a.dim() != 4 or a.shape != b.shape):
        raise ValueError('local_correlation expects two (N, C, H, W) tensors of one shape, '
                         f'got {tuple(a.shape)} and {tuple(b.shape)}')
    if a.dtype != b.dtype or a.device != b.device:
        raise TypeError('local_correlation expects one dtype and device, got '
                        f'{a.dtype}/{a.device} and {b.dtype}/{b.device}')
    if max_displacement < 0 or dilation < 1:
        raise ValueError('max_displacement must be >= 0 and dilation >= 1, got '
                         f'{max_displacement} and {dilation}')
    if implementation == 'auto':
        return _local_correlation(a, b, max_displacement, dilation)
    return reference_in_float32(reference.local_correlation, a, b,
                                max_displacement=max_displacement, dilation=dilation)
