"""The reference formulation of the kernel soft-argmax, in plain PyTorch operations.

For each position of a correlation volume with ``P * P`` displacements (``P = 2 * d + 1``):

* the confidence is the maximum of the rectified scores, ``max(relu(s))``;
* a Gaussian window ``G`` (std ``sigma`` grid steps, peak 1) is centred on the arg-max of the raw
  scores (the first, as ``argmax``; no gradient flows through it);
* the weights are ``softmax(max(temperature * relu(s) * G, floor))``, where the logit floor lies
  :data:`LOGIT_RANGE` below the largest logit; the ReLU and the floor are one clamp, as the window
  is positive;
* the displacement ``(u, v)`` is the expectation of the horizontal and vertical offsets under the
  weights, divided by ``d`` so that it lies in [-1, 1].

:func:`kernel_soft_argmax` is differentiable by autograd and made only of functional operations, so
it is what ``torch.compile``, ``torch.export`` and the ONNX exporter see when the reference is asked
for, and what the operator ``msnet_mmaction::kernel_soft_argmax`` runs where no hand-written kernel
takes its input. :func:`kernel_soft_argmax_backward` is its gradient written out, recomputing the
weights from the volume: that is all the operator keeps for its backward pass.
"""
from typing import NamedTuple, Tuple

import torch
from torch import Tensor

# Logits further than this below their row's maximum are raised to it before the softmax. Their
# weights, under e**-64 = 1.6e-28 of the largest, vanish in float32 sums either way; left alone,
# exp() would give float32 subnormals (below 1.2e-38), on which x86 CPUs compute ~100x slower.
# A confident peak (temperature 100, correlation near 1, ReLU'd zeros elsewhere) produces them.
LOGIT_RANGE = 64.0


def displacement_grid(max_displacement: int, device=None, dtype=torch.float32) -> Tensor:
    """Normalised offsets of every displacement index, shape (P*P, 2) as (u, v) = (dx/d, dy/d)."""
    patch = 2 * max_displacement + 1
    steps = torch.arange(patch, dtype=dtype, device=device) - max_displacement
    steps = steps / max(max_displacement, 1)
    v, u = torch.meshgrid(steps, steps, indexing='ij')
    return torch.stack((u.reshape(-1), v.reshape(-1)), dim=1)


class _Peaks(NamedTuple):
    """Per position (N, H, W): the arg-max and the confidence; the window's two factors
    (N, H, W, P), its rows times the temperature; and the logit floor (N, H, W, 1)."""
    index: Tensor
    confidence: Tensor
    rows: Tensor
    cols: Tensor
    floor: Tensor

    def window(self) -> Tensor:
        """The (N, H, W, P*P) window times the temperature."""
        return (self.rows[..., :, None] * self.cols[..., None, :]).flatten(-2)


def _scores(correlation: Tensor) -> Tensor:
    return correlation.permute(0, 2, 3, 1)  # (N, H, W, P*P)


def _peaks(scores: Tensor, max_displacement: int, sigma: float, temperature: float) -> _Peaks:
    patch = 2 * max_displacement + 1
    peak, index = scores.max(dim=-1)
    confidence = torch.relu(peak)
    steps = torch.arange(patch, dtype=scores.dtype, device=scores.device)
    rows = torch.exp(-(steps - torch.div(index, patch, rounding_mode='floor')[..., None])**2 /
                     (2 * sigma**2)) * temperature
    cols = torch.exp(-(steps - (index % patch)[..., None])**2 / (2 * sigma**2))
    # The window is 1 at the arg-max, so temperature * confidence is the largest logit of a row.
    floor = torch.relu(temperature * confidence - LOGIT_RANGE).detach()[..., None]
    return _Peaks(index, confidence, rows, cols, floor)


def kernel_soft_argmax(correlation: Tensor, max_displacement: int, sigma: float,
                temperature: float) -> Tuple[Tensor, Tensor]:
    """Displacement and confidence of an (N, P*P, H, W) correlation volume.

    Returns:
        tuple[Tensor, Tensor]: displacement (N, 2, H, W), a view of a contiguous (N, H, W, 2)
        tensor, and confidence (N, 1, H, W), in the volume's dtype.
    """
    scores = _scores(correlation)
    peaks = _peaks(scores, max_displacement, sigma, temperature)
    logits = scores * peaks.window()
    weights = torch.softmax(torch.where(logits > peaks.floor, logits, peaks.floor), dim=-1)
    grid = displacement_grid(max_displacement, correlation.device, correlation.dtype)
    displacement = torch.matmul(weights, grid)  # (N, H, W, 2)
    return displacement.contiguous().permute(0, 3, 1, 2), peaks.confidence.contiguous().unsqueeze(1)


def kernel_soft_argmax_backward(grad_displacement: Tensor, grad_confidence: Tensor, correlation: Tensor,
                         max_displacement: int, sigma: float, temperature: float) -> Tensor:
    """Gradient of :func:`kernel_soft_argmax` for the volume, from the gradients of its two outputs.

    A score's gradient is ``p (g - sum(p g))`` (the softmax's gradient, with ``p`` its weight and
    ``g`` the weighted offsets' gradient) times its window where its logit lies above the floor,
    plus the confidence's gradient at a positive arg-max. Computed in place, so that it holds
    about two volumes at a time besides the input.

    Returns:
        Tensor: (N, P*P, H, W), a view of a contiguous (N, H, W, P*P) tensor.
    """
    scores = _scores(correlation)
    peaks = _peaks(scores, max_displacement, sigma, temperature)
    logits = scores * peaks.window()
    above = logits > peaks.floor
    weights = torch.softmax(logits.clamp_(min=peaks.floor), dim=-1)
    del logits
    grid = displacement_grid(max_displacement, correlation.device, correlation.dtype)
    grad = torch.matmul(grad_displacement.permute(0, 2, 3, 1), grid.t())  # (N, H, W, P*P)
    grad.sub_((grad * weights).sum(-1, keepdim=True)).mul_(weights)
    del weights
    grad.mul_(peaks.window()).mul_(above)
    at_peak = grad_confidence[:, 0] * (peaks.confidence > 0)
    grad.scatter_add_(-1, peaks.index[..., None], at_peak[..., None])
    return grad.permute(0, 3, 1, 2)
