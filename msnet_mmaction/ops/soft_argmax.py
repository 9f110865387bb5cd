"""The kernel soft-argmax (displacement and confidence from a correlation volume) as the PyTorch
operator ``msnet_mmaction::kernel_soft_argmax``, with its backward pass
``kernel_soft_argmax_backward``.

Both are registered with :mod:`torch.library` as the correlation is
(:mod:`~msnet_mmaction.ops.correlation`): kernels by device, fake kernels, autograd, float32 under
autocast, one node each in ``torch.compile`` and ``torch.export`` graphs. For its backward pass
the operator keeps the volume alone and recomputes the weights from it.

Kernels, where each falls back to the reference formulation of
:mod:`~msnet_mmaction.ops.soft_argmax_reference` for inputs it does not take:

* CPU: the compiled forward kernel of :mod:`~msnet_mmaction.ops.soft_argmax_cpu` (float32); the
  backward pass is the reference's.
* CUDA: the Triton kernels of :mod:`~msnet_mmaction.ops.soft_argmax_triton` (float32), forward and
  backward.
* Any other device, and float64: the reference.

``MSNET_MMACTION_KERNELS=0`` sends every call to the reference.
"""
from typing import Tuple

import torch
from torch import Tensor

from . import soft_argmax_cpu, soft_argmax_reference
from .autocast_policy import reference_in_float32, register_float32
from .correlation import HALF_DTYPES, IMPLEMENTATIONS
from .triton_support import triton_available


@torch.library.custom_op('msnet_mmaction::kernel_soft_argmax', mutates_args=())
def soft_argmax_op(correlation: Tensor, max_displacement: int, sigma: float,
                   temperature: float) -> Tuple[Tensor, Tensor]:
    """The operator; devices without a kernel of their own run the reference."""
    return soft_argmax_reference.soft_argmax(correlation, max_displacement, sigma, temperature)


@torch.library.custom_op('msnet_mmaction::kernel_soft_argmax_backward', mutates_args=())
def soft_argmax_backward_op(grad_displacement: Tensor, grad_confidence: Tensor,
                            correlation: Tensor, max_displacement: int, sigma: float,
                            temperature: float) -> Tensor:
    """The volume's gradient; devices without a kernel of their own run the reference."""
    return soft_argmax_reference.soft_argmax_backward(grad_displacement, grad_confidence,
                                                      correlation, max_displacement, sigma,
                                                      temperature)


@soft_argmax_op.register_kernel('cpu')
def _cpu_forward(correlation: Tensor, max_displacement: int, sigma: float,
                 temperature: float) -> Tuple[Tensor, Tensor]:
    if soft_argmax_cpu.supports(correlation):
        return soft_argmax_cpu.forward(correlation, max_displacement, sigma, temperature)
    return soft_argmax_reference.soft_argmax(correlation, max_displacement, sigma, temperature)


@soft_argmax_op.register_kernel('cuda')
def _cuda_forward(correlation: Tensor, max_displacement: int, sigma: float,
                  temperature: float) -> Tuple[Tensor, Tensor]:
    if triton_available():
        from . import soft_argmax_triton
        if soft_argmax_triton.supports(correlation):
            return soft_argmax_triton.forward(correlation, max_displacement, sigma, temperature)
    return soft_argmax_reference.soft_argmax(correlation, max_displacement, sigma, temperature)


@soft_argmax_backward_op.register_kernel('cuda')
def _cuda_backward(grad_displacement: Tensor, grad_confidence: Tensor, correlation: Tensor,
                   max_displacement: int, sigma: float, temperature: float) -> Tensor:
    if triton_available():
        from . import soft_argmax_triton
        if soft_argmax_triton.supports(correlation):
            return soft_argmax_triton.backward(grad_displacement, grad_confidence, correlation,
                                               max_displacement, sigma, temperature)
    return soft_argmax_reference.soft_argmax_backward(grad_displacement, grad_confidence,
                                                      correlation, max_displacement, sigma,
                                                      temperature)


@soft_argmax_op.register_fake
def _fake_forward(correlation: Tensor, max_displacement: int, sigma: float,
                  temperature: float) -> Tuple[Tensor, Tensor]:
    n, _, h, w = correlation.shape
    return (correlation.new_empty((n, h, w, 2)).permute(0, 3, 1, 2),
            correlation.new_empty((n, h, w)).unsqueeze(1))


@soft_argmax_backward_op.register_fake
def _fake_backward(grad_displacement: Tensor, grad_confidence: Tensor, correlation: Tensor,
                   max_displacement: int, sigma: float, temperature: float) -> Tensor:
    n, k, h, w = correlation.shape
    return correlation.new_empty((n, h, w, k)).permute(0, 3, 1, 2)


def _setup_context(ctx, inputs: tuple, output: Tuple[Tensor, Tensor]) -> None:
    correlation, *settings = inputs
    ctx.save_for_backward(correlation)
    ctx.settings = settings


def _backward(ctx, grad_displacement: Tensor, grad_confidence: Tensor):
    correlation, = ctx.saved_tensors
    grad = soft_argmax_backward_op(grad_displacement, grad_confidence, correlation,
                                   *ctx.settings)
    return grad, None, None, None


soft_argmax_op.register_autograd(_backward, setup_context=_setup_context)
register_float32(soft_argmax_op)


def kernel_soft_argmax(correlation: Tensor,
                       max_displacement: int,
                       sigma: float = 5.0,
                       temperature: float = 100.0,
                       *,
                       implementation: str = 'auto') -> Tuple[Tensor, Tensor]:
    """Estimate displacement and confidence from a correlation volume.

    Negative correlations are set to zero first (ReLU), as MotionSqueeze does. A Gaussian window
    (std ``sigma`` grid steps, peak 1) centred on the arg-max suppresses distant secondary peaks,
    then a softmax with ``temperature`` turns the windowed scores into weights over the offsets.
    The arg-max position carries no gradient; everything else does. Half-precision volumes are
    computed in float32; float64 ones in float64.

    Args:
        correlation (Tensor): Shape (N, P*P, H, W) with ``P = 2 * max_displacement + 1`` and
            displacement index ``k = i * P + j`` (``i`` vertical, ``j`` horizontal).
        max_displacement (int): ``d``.
        sigma (float): Std of the Gaussian window in grid steps. Defaults to 5.
        temperature (float): Softmax temperature (multiplier). Defaults to 100.
        implementation (str): ``'auto'`` calls the operator
            ``msnet_mmaction::kernel_soft_argmax``, which runs the device's hand-written kernel
            where one takes the volume; ``'reference'`` computes the reference formulation with
            plain PyTorch operations, which ``torch.compile`` and the exporters trace into. Both
            give the same values up to floating-point rounding. Defaults to ``'auto'``.

    Returns:
        tuple[Tensor, Tensor]: displacement (N, 2, H, W) with channels (u, v) in [-1, 1], and
        confidence (N, 1, H, W), the maximum of the rectified correlation.
    """
    k = correlation.shape[1]
    patch = 2 * max_displacement + 1
    if correlation.dim() != 4 or k != patch * patch:
        raise ValueError(f'correlation has {k} channels, expected {patch * patch} for '
                         f'max_displacement={max_displacement}')
    if sigma <= 0 or temperature <= 0:
        raise ValueError(f'sigma and temperature must be positive, got {sigma} and {temperature}')
    if correlation.dtype in HALF_DTYPES:
        correlation = correlation.float()
    if implementation == 'auto':
        return soft_argmax_op(correlation, max_displacement, float(sigma), float(temperature))
    if implementation == 'reference':
        return reference_in_float32(soft_argmax_reference.soft_argmax, correlation,
                                    max_displacement=max_displacement, sigma=sigma,
                                    temperature=temperature)
    raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}')
