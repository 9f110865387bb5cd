"""``x + relu(z)`` that keeps a one-byte mask for its backward pass.

MotionSqueeze ends in ``x + relu(bn(conv(h)))``. A ReLU module keeps its output for the backward
pass, two or four bytes per element, and nothing else needs it there: the addition keeps nothing
and the batch norm keeps its own input. This op keeps ``z > 0`` instead, one byte per element.
"""
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class _AddRectified(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, z: Tensor) -> Tensor:
        ctx.save_for_backward(z > 0)
        return x + torch.relu(z)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        positive, = ctx.saved_tensors
        return grad, grad * positive if ctx.needs_input_grad[1] else None


def add_rectified(x: Tensor, z: Tensor) -> Tensor:
    """``x + relu(z)``, the same values and gradients (where ``z`` is finite) as the two ops.

    Args:
        x (Tensor): Any shape.
        z (Tensor): Broadcastable with ``x``; usually the same shape, e.g. (N * T, C, H, W).

    Returns:
        Tensor: ``x + relu(z)``. Where autograd records it, the backward pass keeps only the
        boolean mask ``z > 0``. Under tracing and ``torch.compile`` it is the two plain ops.
    """
    if (torch.is_grad_enabled() and (x.requires_grad or z.requires_grad)
            and not torch.compiler.is_compiling() and not torch.jit.is_tracing()):
        return _AddRectified.apply(x, z)
    return x + torch.relu(z)
