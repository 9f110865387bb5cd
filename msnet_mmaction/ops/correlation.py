"""The local correlation (the cost volume of MotionSqueeze) as the PyTorch operator
``msnet_mmaction::local_correlation``, with its backward pass ``local_correlation_backward``.

Both are registered with :mod:`torch.library`: PyTorch's dispatcher picks the kernel by device,
the fake kernels give shapes and strides to ``torch.compile`` and ``torch.export`` without
running anything, and autograd calls the backward operator. Under autocast the operators take
float32 inputs. ``torch.compile`` and ``torch.export`` keep each operator as one node, so their
graphs run the hand-written kernels.

Kernels, where each falls back to the reference formulation of
:mod:`~msnet_mmaction.ops.correlation_reference` for inputs it does not take:

* CPU: the compiled kernel of :mod:`~msnet_mmaction.ops.correlation_cpu` (float32 and float64,
  dilation 1); float16 and bfloat16 inputs are computed in float32 and returned in their dtype.
* CUDA: the Triton kernels of :mod:`~msnet_mmaction.ops.correlation_triton` (float32, float16 and
  bfloat16 with sums in float32; any dilation; up to 256 channels).
* Any other device: the reference.

``MSNET_MMACTION_KERNELS=0`` sends every call to the reference.
"""
from typing import Tuple

import torch
from torch import Tensor

from . import correlation_cpu, correlation_reference
from .autocast_policy import reference_in_float32, register_float32
from .triton_support import triton_available

HALF_DTYPES = (torch.float16, torch.bfloat16)
IMPLEMENTATIONS = ('auto', 'reference')


@torch.library.custom_op('msnet_mmaction::local_correlation', mutates_args=())
def correlation_op(a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
    """The operator; devices without a kernel of their own run the reference."""
    return correlation_reference.correlation(a, b, max_displacement, dilation)


@torch.library.custom_op('msnet_mmaction::local_correlation_backward', mutates_args=())
def correlation_backward_op(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int,
                            dilation: int) -> Tuple[Tensor, Tensor]:
    """The gradients for ``a`` and ``b``; devices without a kernel of their own run the
    reference."""
    return correlation_reference.correlation_backward(grad, a, b, max_displacement, dilation)


@correlation_op.register_kernel('cpu')
def _cpu_forward(a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
    if a.dtype in HALF_DTYPES:
        # CPU matrix products in half precision are slow and accumulate coarsely.
        return _cpu_forward(a.float(), b.float(), max_displacement, dilation).to(a.dtype)
    if correlation_cpu.supports(a, dilation):
        return correlation_cpu.forward(a, b, max_displacement)
    return correlation_reference.correlation(a, b, max_displacement, dilation)


@correlation_backward_op.register_kernel('cpu')
def _cpu_backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int,
                  dilation: int) -> Tuple[Tensor, Tensor]:
    if a.dtype in HALF_DTYPES:
        grads = _cpu_backward(grad.float(), a.float(), b.float(), max_displacement, dilation)
        return tuple(g.to(a.dtype) for g in grads)
    if correlation_cpu.supports(a, dilation):
        return correlation_cpu.backward(grad, a, b, max_displacement)
    return correlation_reference.correlation_backward(grad, a, b, max_displacement, dilation)


@correlation_op.register_kernel('cuda')
def _cuda_forward(a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
    if triton_available():
        from . import correlation_triton
        if correlation_triton.supports(a, b, max_displacement):
            return correlation_triton.forward(a, b, max_displacement, dilation)
    return correlation_reference.correlation(a, b, max_displacement, dilation)


@correlation_backward_op.register_kernel('cuda')
def _cuda_backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int,
                   dilation: int) -> Tuple[Tensor, Tensor]:
    if triton_available():
        from . import correlation_triton
        if correlation_triton.supports(a, b, max_displacement):
            return correlation_triton.backward(grad, a, b, max_displacement, dilation)
    return correlation_reference.correlation_backward(grad, a, b, max_displacement, dilation)


@correlation_op.register_fake
def _fake_forward(a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
    n, _, h, w = a.shape
    return a.new_empty((n, h, w, (2 * max_displacement + 1)**2)).permute(0, 3, 1, 2)


@correlation_backward_op.register_fake
def _fake_backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int,
                   dilation: int) -> Tuple[Tensor, Tensor]:
    return torch.empty_like(a), torch.empty_like(b)


def _setup_context(ctx, inputs: tuple, output: Tensor) -> None:
    a, b, max_displacement, dilation = inputs
    ctx.save_for_backward(a, b)
    ctx.settings = (max_displacement, dilation)


def _backward(ctx, grad: Tensor):
    a, b = ctx.saved_tensors
    grad_a, grad_b = correlation_backward_op(grad, a, b, *ctx.settings)
    return grad_a, grad_b, None, None


correlation_op.register_autograd(_backward, setup_context=_setup_context)
register_float32(correlation_op)


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
            ``msnet_mmaction::local_correlation``, which runs the device's hand-written kernel
            where one takes the inputs; ``'reference'`` computes the reference formulation with
            plain PyTorch operations, which ``torch.compile`` and the exporters trace into. Both
            give the same values up to floating-point rounding and compute in float32 under
            autocast. Defaults to ``'auto'``.

    Returns:
        Tensor: Shape (N, (2d+1)**2, H, W), displacement index ``k = i * (2d+1) + j``, stored
        channels-last.
    """
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
        return correlation_op(a, b, max_displacement, dilation)
    if implementation == 'reference':
        return reference_in_float32(correlation_reference.correlation, a, b,
                                    max_displacement=max_displacement, dilation=dilation)
    raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}')
