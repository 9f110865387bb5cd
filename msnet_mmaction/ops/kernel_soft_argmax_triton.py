"""The Triton kernels of ``msnet_mmaction::kernel_soft_argmax`` (CUDA, float32).

One program takes ``BLOCK_M`` positions with all their P * P scores as one tile: the arg-max (the
first, as ``argmax``), the Gaussian window around it, the clamp of the windowed scores to the
logit floor, the softmax and its two weighted sums, in float32 registers. The forward pass reads
the volume once and writes nothing volume-sized; the backward pass recomputes the weights from the
volume and writes its gradient.

Each launch is built as a :class:`~.policy.TritonLaunch` and run on its tensors' device. Import this
module only where Triton is installed (:func:`.policy.triton_installed`).
"""
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from .kernel_soft_argmax_reference import LOGIT_RANGE
from .policy import INDEX_LIMIT, TritonLaunch, block_size

#: The dtypes the kernels take.
DTYPES = (torch.float32, )

# Scores held per program (positions x padded offsets).
TILE = 4096


@triton.jit
def _windowed_softmax(scores_ptr, positions, offsets, max_displacement, inv_two_sigma_sq,
                      temperature, logit_range, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr):
    """This program's positions ``ms`` and the offsets ``ks``, and for each position in float32:
    its scores, the window (times the temperature), the logit floor, the softmax weights, the
    confidence and the arg-max."""
    ms = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    ks = tl.arange(0, BLOCK_K)
    in_offsets = ks < offsets
    scores = tl.load(scores_ptr + ms[:, None] * offsets + ks[None, :],
                     mask=(ms < positions)[:, None] & in_offsets[None, :], other=float('-inf'))
    peak, index = tl.max(scores, axis=1, return_indices=True, return_indices_tie_break_left=True)
    confidence = tl.maximum(peak, 0.)
    patch = 2 * max_displacement + 1
    di = (ks[None, :] // patch - index[:, None] // patch).to(tl.float32)
    dj = (ks[None, :] % patch - index[:, None] % patch).to(tl.float32)
    window = (temperature * tl.exp(-(di * di) * inv_two_sigma_sq)
              * tl.exp(-(dj * dj) * inv_two_sigma_sq))
    floor = tl.maximum(temperature * confidence - logit_range, 0.)
    logits = tl.where(in_offsets[None, :], tl.maximum(scores * window, floor[:, None]),
                      float('-inf'))
    weights = tl.exp(logits - tl.max(logits, axis=1)[:, None])
    weights = weights / tl.sum(weights, axis=1)[:, None]
    return ms, ks, scores, window, floor, weights, confidence, index


@triton.jit
def _expected_offsets(weights, ks, max_displacement):
    """The offsets ``x``, ``y`` (1, BLOCK_K) in grid steps and their expectations ``u``, ``v``."""
    patch = 2 * max_displacement + 1
    x = (ks % patch - max_displacement).to(tl.float32)[None, :]
    y = (ks // patch - max_displacement).to(tl.float32)[None, :]
    return x, y, tl.sum(weights * x, axis=1), tl.sum(weights * y, axis=1)


@triton.jit
def _soft_argmax_forward(scores_ptr, displacement_ptr, confidence_ptr, positions, offsets,
                         max_displacement, inv_two_sigma_sq, temperature, logit_range, scale,
                         BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr):
    ms, ks, _, _, _, weights, confidence, _ = _windowed_softmax(
        scores_ptr, positions, offsets, max_displacement, inv_two_sigma_sq, temperature,
        logit_range, BLOCK_M, BLOCK_K)
    _, _, u, v = _expected_offsets(weights, ks, max_displacement)
    in_rows = ms < positions
    tl.store(displacement_ptr + 2 * ms, u * scale, mask=in_rows)
    tl.store(displacement_ptr + 2 * ms + 1, v * scale, mask=in_rows)
    tl.store(confidence_ptr + ms, confidence, mask=in_rows)


@triton.jit
def _soft_argmax_backward(scores_ptr, grad_displacement_ptr, grad_confidence_ptr, grad_scores_ptr,
                          positions, offsets, max_displacement, inv_two_sigma_sq, temperature,
                          logit_range, scale, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr):
    """Recomputes the weights ``p`` from the scores; the gradient of a score is
    ``p (g_u (x - u) + g_v (y - v))`` times its window where its logit is above the floor, plus
    the confidence's gradient at a positive arg-max."""
    ms, ks, scores, window, floor, p, confidence, index = _windowed_softmax(
        scores_ptr, positions, offsets, max_displacement, inv_two_sigma_sq, temperature,
        logit_range, BLOCK_M, BLOCK_K)
    x, y, u, v = _expected_offsets(p, ks, max_displacement)
    in_rows = ms < positions
    grad_u = tl.load(grad_displacement_ptr + 2 * ms, mask=in_rows, other=0.) * scale
    grad_v = tl.load(grad_displacement_ptr + 2 * ms + 1, mask=in_rows, other=0.) * scale
    grad_logits = p * (grad_u[:, None] * (x - u[:, None]) + grad_v[:, None] * (y - v[:, None]))
    grad = tl.where(scores * window > floor[:, None], grad_logits * window, 0.)
    grad_confidence = tl.load(grad_confidence_ptr + ms, mask=in_rows, other=0.)
    at_peak = (ks[None, :] == index[:, None]) & (confidence > 0)[:, None]
    grad += tl.where(at_peak, grad_confidence[:, None], 0.)
    tl.store(grad_scores_ptr + ms[:, None] * offsets + ks[None, :], grad,
             mask=in_rows[:, None] & (ks < offsets)[None, :])


def _launch(kernel, scores: Tensor, max_displacement: int, sigma: float, temperature: float,
            *tensors: Tensor) -> TritonLaunch:
    """The launch of ``kernel`` over the positions of the contiguous (N, H, W, P * P) ``scores``."""
    offsets = scores.shape[-1]
    positions = scores.numel() // offsets
    block_k = block_size(offsets, 1 << 30)
    block_m = max(1, TILE // block_k)
    return TritonLaunch(kernel, (triton.cdiv(positions, block_m), ),
                        (scores, *tensors, positions, offsets, max_displacement,
                         1 / (2 * sigma**2), temperature, LOGIT_RANGE, 1 / max(max_displacement, 1)),
                        dict(BLOCK_M=block_m, BLOCK_K=block_k))


def forward_launch(scores: Tensor, max_displacement: int, sigma: float, temperature: float,
                   displacement: Tensor, confidence: Tensor) -> TritonLaunch:
    """The launch that writes the contiguous (N, H, W, 2) ``displacement`` and (N, H, W)
    ``confidence`` of the contiguous (N, H, W, P * P) ``scores``."""
    return _launch(_soft_argmax_forward, scores, max_displacement, sigma, temperature,
                   displacement, confidence)


def backward_launch(scores: Tensor, max_displacement: int, sigma: float, temperature: float,
                    grad_displacement: Tensor, grad_confidence: Tensor,
                    grad_scores: Tensor) -> TritonLaunch:
    """The launch that writes the contiguous (N, H, W, P * P) ``grad_scores`` from the contiguous
    gradients of the displacement and the confidence."""
    return _launch(_soft_argmax_backward, scores, max_displacement, sigma, temperature,
                   grad_displacement, grad_confidence, grad_scores)


def refusal(correlation: Tensor, dtype: torch.dtype) -> Optional[str]:
    """Why the kernels do not take the (N, P * P, H, W) volume computed in ``dtype``; None where
    they do: float32, and the volume and its (N, H, W, 2) displacement within 32-bit offsets
    (:data:`.policy.INDEX_LIMIT`)."""
    if dtype not in DTYPES:
        return f'the Triton kernels take float32, not {dtype}'
    offsets = correlation.shape[1]
    if correlation.numel() // max(offsets, 1) * max(offsets, 2) >= INDEX_LIMIT:
        return 'a tensor spans 2**31 elements or more (32-bit offsets)'
    return None


def forward(correlation: Tensor, max_displacement: int, sigma: float,
            temperature: float) -> Tuple[Tensor, Tensor]:
    """Displacement (N, 2, H, W) and confidence (N, 1, H, W) of an (N, P * P, H, W) volume."""
    scores = correlation.permute(0, 2, 3, 1).contiguous()
    n, h, w, _ = scores.shape
    displacement = scores.new_empty((n, h, w, 2))
    confidence = scores.new_empty((n, h, w))
    forward_launch(scores, max_displacement, sigma, temperature, displacement, confidence).run()
    return displacement.permute(0, 3, 1, 2), confidence.unsqueeze(1)


def backward(grad_displacement: Tensor, grad_confidence: Tensor, correlation: Tensor,
             max_displacement: int, sigma: float, temperature: float) -> Tensor:
    """The volume's (N, P * P, H, W) channels-last gradient, recomputing the weights from it."""
    scores = correlation.permute(0, 2, 3, 1).contiguous()
    grad_scores = torch.empty_like(scores)
    backward_launch(scores, max_displacement, sigma, temperature,
                    grad_displacement.permute(0, 2, 3, 1).contiguous(),
                    grad_confidence.contiguous(), grad_scores).run()
    return grad_scores.permute(0, 3, 1, 2)
