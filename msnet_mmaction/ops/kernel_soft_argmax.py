"""The kernel soft-argmax (displacement and confidence from a correlation volume) as the PyTorch
operator ``msnet_mmaction::kernel_soft_argmax``, with its backward pass
``kernel_soft_argmax_backward``.

Both are registered with :mod:`torch.library` as the correlation is (:mod:`.local_correlation`):
fake kernels, autograd, float32 under autocast, one node each in ``torch.compile`` and
``torch.export`` graphs. For its backward pass the operator keeps the volume alone and recomputes
the weights from it.

:func:`kernel_soft_argmax_path` alone decides which code computes a call:

* CPU, float32 (half precision computed in float32): the compiled forward kernel of
  ``csrc/kernel_soft_argmax_cpu.cpp``, called through :mod:`.cpu_library`; the backward pass is the
  reference's, which recomputes the weights;
* CUDA, float32 (half precision computed in float32): the Triton kernels of
  :mod:`.kernel_soft_argmax_triton`, forward and backward;
* otherwise (float64, other devices), and with ``MSNET_MMACTION_KERNELS=0``: the reference
  formulation of :mod:`.kernel_soft_argmax_reference`.
"""
from typing import Tuple

import torch
from torch import Tensor

from . import kernel_soft_argmax_reference as reference
from .cpu_library import cpu_library
from .policy import (CPU_KERNEL, HALF_DTYPES, REFERENCE, TRITON, KernelPath,
                     check_implementation, compute_dtype, reference_in_float32, register_float32,
                     switched_off, triton_refusal)

#: The dtypes the compiled CPU kernel takes.
CPU_DTYPES = (torch.float32, )


def kernel_soft_argmax_path(correlation: Tensor, backward: bool = False) -> KernelPath:
    """Which code computes the soft-argmax of the (N, P * P, H, W) volume (its backward pass with
    ``backward=True``), in which dtype, and why."""
    dtype = compute_dtype(correlation.dtype, ())
    off = switched_off()
    reason = off or triton_refusal(correlation.device)
    if reason is None:
        from . import kernel_soft_argmax_triton
        reason = kernel_soft_argmax_triton.refusal(correlation, dtype)
        if reason is None:
            return KernelPath(TRITON, dtype, f'{correlation.dtype} on {correlation.device.type}')
    elif correlation.is_cpu and off is None:
        if dtype not in CPU_DTYPES:
            reason = f'the compiled CPU kernel takes float32, not {correlation.dtype}'
        elif backward:
            reason = 'no compiled CPU backward: the reference recomputes the weights'
        elif cpu_library() is None:
            reason = 'the compiled CPU kernels could not be built (see the warning)'
        else:
            return KernelPath(CPU_KERNEL, dtype, f'{correlation.dtype} on the CPU')
    return KernelPath(REFERENCE, dtype, reason)


def _cpu_forward(correlation: Tensor, max_displacement: int, sigma: float,
                 temperature: float) -> Tuple[Tensor, Tensor]:
    scores = correlation.permute(0, 2, 3, 1).contiguous()
    n, h, w, _ = scores.shape
    displacement = scores.new_empty((n, h, w, 2))
    confidence = scores.new_empty((n, h, w))
    cpu_library().call('msnet_kernel_soft_argmax_forward_f32', scores.data_ptr(),
                       displacement.data_ptr(), confidence.data_ptr(), n, h, w, max_displacement,
                       sigma, temperature, reference.LOGIT_RANGE, torch.get_num_threads())
    return displacement.permute(0, 3, 1, 2), confidence.unsqueeze(1)


@torch.library.custom_op('msnet_mmaction::kernel_soft_argmax', mutates_args=())
def _kernel_soft_argmax(correlation: Tensor, max_displacement: int, sigma: float,
                        temperature: float) -> Tuple[Tensor, Tensor]:
    path = kernel_soft_argmax_path(correlation)
    volume = correlation.to(path.dtype)
    if path.kernel == CPU_KERNEL:
        outputs = _cpu_forward(volume, max_displacement, sigma, temperature)
    elif path.kernel == TRITON:
        from . import kernel_soft_argmax_triton
        outputs = kernel_soft_argmax_triton.forward(volume, max_displacement, sigma, temperature)
    else:
        outputs = reference.kernel_soft_argmax(volume, max_displacement, sigma, temperature)
    return tuple(output.to(correlation.dtype) for output in outputs)


@torch.library.custom_op('msnet_mmaction::kernel_soft_argmax_backward', mutates_args=())
def _kernel_soft_argmax_backward(grad_displacement: Tensor, grad_confidence: Tensor,
                                 correlation: Tensor, max_displacement: int, sigma: float,
                                 temperature: float) -> Tensor:
    path = kernel_soft_argmax_path(correlation, backward=True)
    args = (grad_displacement.to(path.dtype), grad_confidence.to(path.dtype),
            correlation.to(path.dtype), max_displacement, sigma, temperature)
    if path.kernel == TRITON:
        from . import kernel_soft_argmax_triton
        grad = kernel_soft_argmax_triton.backward(*args)
    else:
        grad = reference.kernel_soft_argmax_backward(*args)
    return grad.to(correlation.dtype)


@_kernel_soft_argmax.register_fake
def _fake(correlation: Tensor, max_displacement: int, sigma: float,
          temperature: float) -> Tuple[Tensor, Tensor]:
    n, _, h, w = correlation.shape
    return (correlation.new_empty((n, h, w, 2)).permute(0, 3, 1, 2),
            correlation.new_empty((n, h, w)).unsqueeze(1))


@_kernel_soft_argmax_backward.register_fake
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
    grad = _kernel_soft_argmax_backward(grad_displacement, grad_confidence, correlation,
                                        *ctx.settings)
    return grad, None, None, None


_kernel_soft_argmax.register_autograd(_backward, setup_context=_setup_context)
register_float32(_kernel_soft_argmax)
register_float32(_kernel_soft_argmax_backward)


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
            ``msnet_mmaction::kernel_soft_argmax``, which runs the code
            :func:`kernel_soft_argmax_path` names; ``'reference'`` computes the reference
            formulation with plain PyTorch operations, which ``torch.compile`` and the exporters
            trace into. Both give the same values up to floating-point rounding. Defaults to
            ``'auto'``.

    Returns:
        tuple[Tensor, Tensor]: displacement (N, 2, H, W) with channels (u, v) in [-1, 1], and
        confidence (N, 1, H, W), the maximum of the rectified correlation.
    """
    check_implementation(implementation)
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
        return _kernel_soft_argmax(correlation, max_displacement, float(sigma), float(temperature))
    return reference_in_float32(reference.kernel_soft_argmax, correlation,
                                max_displacement=max_displacement, sigma=sigma,
                                temperature=temperature)
