"""Two independent formulations of ``local_correlation``, for tests and the micro-benchmark.

Both return (N, (2d+1)**2, H, W) with displacement index ``k = i * (2d+1) + j`` and zeros where the
partner position is outside the map, exactly like :func:`msnet_mmaction.ops.local_correlation`.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def correlation_unfold(a: Tensor, b: Tensor, max_displacement: int = 7, dilation: int = 1) -> Tensor:
    """im2col: unfold every (2d+1)^2 neighbourhood of ``b``, multiply by ``a``, sum over channels.

    Materialises an (N, C, P*P, H, W) tensor.
    """
    n, c, h, w = a.shape
    patch = 2 * max_displacement + 1
    columns = F.unfold(b, patch, dilation=dilation, padding=max_displacement * dilation)
    return (a.unsqueeze(2) * columns.view(n, c, patch * patch, h, w)).sum(1)


def correlation_matmul_gather(a: Tensor, b: Tensor, max_displacement: int = 7,
                              dilation: int = 1) -> Tensor:
    """Correlate every position with every other (an (N, HW, HW) product), then gather the window.

    Materialises the full (N, HW, HW) product.
    """
    n, c, h, w = a.shape
    patch = 2 * max_displacement + 1
    full = torch.bmm(a.flatten(2).transpose(1, 2), b.flatten(2))
    offsets = (torch.arange(patch, device=a.device) - max_displacement) * dilation
    ys, xs = torch.meshgrid(torch.arange(h, device=a.device), torch.arange(w, device=a.device),
                            indexing='ij')
    ty = ys.reshape(-1, 1, 1) + offsets.view(1, patch, 1)
    tx = xs.reshape(-1, 1, 1) + offsets.view(1, 1, patch)
    valid = ((ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)).reshape(h * w, patch * patch)
    index = (ty.clamp(0, h - 1) * w + tx.clamp(0, w - 1)).reshape(h * w, patch * patch)
    picked = full.gather(2, index.unsqueeze(0).expand(n, -1, -1)) * valid.to(full.dtype)
    return picked.transpose(1, 2).reshape(n, patch * patch, h, w)
