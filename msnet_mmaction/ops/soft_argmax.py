"""Kernel soft-argmax: displacement and confidence from a local correlation volume."""
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from .soft_argmax_cpu import compiled_kernel_for
from .triton_support import runnable_on


def displacement_grid(max_displacement: int, device=None) -> Tensor:
    """Normalised offsets of every displacement index, shape (P*P, 2) as (u, v) = (dx/d, dy/d)."""
    patch = 2 * max_displacement + 1
    steps = torch.arange(patch, dtype=torch.float32, device=device) - max_displacement
    steps = steps / max(max_displacement, 1)
    v, u = torch.meshgrid(steps, steps, indexing='ij')
    return torch.stack((u.reshape(-1), v.reshape(-1)), dim=1)


# Logits further than this below their row's maximum are raised to it before the softmax. Their
# weights, under e**-64 = 1.6e-28 of the largest, vanish in float32 sums either way; left alone,
# exp() would give float32 subnormals (below 1.2e-38), on which x86 CPUs compute ~100x slower.
# A confident peak (temperature 100, correlation near 1, ReLU'd zeros elsewhere) produces them.
LOGIT_RANGE = 64.0


class _WindowedSoftmax(torch.autograd.Function):
    """``softmax(max(relu(scores) * outer(rows, cols), floor))`` over the last dim.

    ``scores`` (..., P*P) is the raw correlation; ``rows`` and ``cols`` (..., P) are the separable
    window factors, positive and without gradient; ``floor`` (..., 1) is at least 0. With a
    positive window the ReLU and the floor are one clamp of ``scores * window``. For the backward
    pass it keeps the output and a boolean mask of the logits above the floor (the only ones with a
    gradient), not the rectified scores and the window that autograd would keep: in training that
    saves about 1.75 correlation-sized float32 tensors per module. The window is rebuilt from its
    factors.
    """

    @staticmethod
    def forward(ctx, scores: Tensor, rows: Tensor, cols: Tensor, floor: Tensor) -> Tensor:
        logits = scores * _outer(rows, cols)
        above = logits > floor if ctx.needs_input_grad[0] else None
        weights = torch.softmax(logits.clamp_(min=floor), dim=-1)
        if above is not None:
            ctx.save_for_backward(weights, rows, cols, above)
        return weights

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        weights, rows, cols, above = ctx.saved_tensors
        grad_logits = weights * (grad - (grad * weights).sum(-1, keepdim=True))
        return grad_logits.mul_(_outer(rows, cols)).mul_(above), None, None, None


def _outer(rows: Tensor, cols: Tensor) -> Tensor:
    """(..., P) x (..., P) -> (..., P*P), ``rows`` indexing the slower axis."""
    return (rows[..., :, None] * cols[..., None, :]).flatten(-2)


def _triton_kernel(scores: Tensor, required: bool) -> Optional[Callable]:
    """The Triton soft-argmax where it takes the float32 ``scores``; None (or, if ``required``, an
    error) otherwise."""
    if runnable_on(scores):
        from . import soft_argmax_triton
        if soft_argmax_triton.supports(scores):
            return soft_argmax_triton.TritonSoftArgmax.apply
    if required:
        raise RuntimeError(
            "implementation='triton' needs Triton and a CUDA volume (a CPU one under "
            'TRITON_INTERPRET=1) of fewer than 2**31 elements, outside tracing; got '
            f'{tuple(scores.shape)} on {scores.device}')
    return None


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
    The arg-max position carries no gradient; everything else does. Computed in float32.

    Args:
        correlation (Tensor): Shape (N, P*P, H, W) with ``P = 2 * max_displacement + 1`` and
            displacement index ``k = i * P + j`` (``i`` vertical, ``j`` horizontal).
        max_displacement (int): ``d``.
        sigma (float): Std of the Gaussian window in grid steps. Defaults to 5.
        temperature (float): Softmax temperature (multiplier). Defaults to 100.
        implementation (str): ``'auto'`` runs, outside tracing and compilation, the Triton
            kernels (:mod:`~msnet_mmaction.ops.soft_argmax_triton`) on CUDA tensors, the compiled
            CPU kernel (:mod:`~msnet_mmaction.ops.soft_argmax_cpu`) on CPU tensors where no
            gradient is needed (inference), and the pure-PyTorch path otherwise; ``'pytorch'``
            always runs the pure-PyTorch path and ``'triton'`` the Triton kernels (an error where
            they cannot run). All give the same values up to floating-point rounding. Defaults
            to ``'auto'``.

    Returns:
        tuple[Tensor, Tensor]: displacement (N, 2, H, W) with channels (u, v) in [-1, 1], and
        confidence (N, 1, H, W), the maximum of the rectified correlation.
    """
    k = correlation.shape[1]
    patch = 2 * max_displacement + 1
    if k != patch * patch:
        raise ValueError(f'correlation has {k} channels, expected {patch * patch} for '
                         f'max_displacement={max_displacement}')
    if sigma <= 0 or temperature <= 0:
        raise ValueError(f'sigma and temperature must be positive, got {sigma} and {temperature}')
    if implementation not in ('auto', 'pytorch', 'triton'):
        raise ValueError("implementation must be 'auto', 'pytorch' or 'triton', got "
                         f'{implementation!r}')
    scores = correlation.permute(0, 2, 3, 1).float()  # (N, H, W, P*P), not yet rectified
    kernel = None
    if implementation == 'triton' or (implementation == 'auto' and scores.device.type == 'cuda'):
        kernel = _triton_kernel(scores, required=implementation == 'triton')
    elif implementation == 'auto':
        kernel = compiled_kernel_for(scores)
    if kernel is not None:
        return kernel(scores.contiguous(), max_displacement, sigma, temperature, LOGIT_RANGE)
    confidence, index = scores.max(dim=-1)
    # The rectified maximum. Where no score is positive all logits are 0 and the window, centred on
    # the raw arg-max, has no effect.
    confidence = F.relu(confidence)
    steps = torch.arange(patch, dtype=torch.float32, device=scores.device)
    gauss_i = torch.exp(-(steps - torch.div(index, patch, rounding_mode='floor')[..., None])**2 /
                        (2 * sigma**2))
    gauss_j = torch.exp(-(steps - (index % patch)[..., None])**2 / (2 * sigma**2))
    # The window is 1 at the arg-max, so temperature * confidence is the largest logit of each row.
    floor = F.relu(temperature * confidence.unsqueeze(-1) - LOGIT_RANGE)
    weights = _WindowedSoftmax.apply(scores, temperature * gauss_i, gauss_j, floor)
    displacement = weights @ displacement_grid(max_displacement, scores.device)  # (N, H, W, 2)
    return displacement.permute(0, 3, 1, 2), confidence.unsqueeze(1)
