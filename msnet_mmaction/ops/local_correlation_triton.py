"""The Triton kernels of ``msnet_mmaction::local_correlation`` (CUDA; any dilation).

One program per output row ``(n, y)`` (and block of ``BLOCK_W`` columns) holds the row of ``a`` as a
(BLOCK_W, C) tile and, for each of the P * P offsets, loads the matching shifted tile of ``b`` and
reduces over the channels. The backward pass is one kernel run twice: the gradient for ``a`` sums
the output gradient at the position times ``b`` at each offset; the gradient for ``b`` sums, over
the offsets, the output gradient and ``a`` at the position the offset came from. Nothing but the
outputs is allocated, and every sum runs in float32.

Each launch is built as a :class:`~.policy.TritonLaunch` and run on its tensors' device. Import this
module only where Triton is installed (:func:`.policy.triton_installed`).
"""
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from .policy import INDEX_LIMIT, TritonLaunch, block_size, int32_addressable

#: The dtypes the kernels take; every sum runs in float32.
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# A row of features is one (BLOCK_W, C) tile in registers; features with more channels run the
# reference.
MAX_CHANNELS = 256


@triton.jit
def _correlation_forward(a_ptr, b_ptr, out_ptr, height, width, channels, max_displacement,
                         dilation, a_sn, a_sc, a_sh, a_sw, b_sn, b_sc, b_sh, b_sw,
                         BLOCK_W: tl.constexpr, BLOCK_C: tl.constexpr):
    row = tl.program_id(0)
    n = row // height
    y = row % height
    patch = 2 * max_displacement + 1
    xs = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    cs = tl.arange(0, BLOCK_C)
    in_row = xs < width
    in_channels = cs < channels
    # Each lane's row, as a vector: masks mixing scalars and vectors trip Triton's interpreter.
    ys = tl.full((BLOCK_W, ), 0, tl.int32) + y
    a_tile = tl.load(a_ptr + n * a_sn + y * a_sh + xs[:, None] * a_sw + cs[None, :] * a_sc,
                     mask=in_row[:, None] & in_channels[None, :], other=0.).to(tl.float32)
    out_row = out_ptr + row * width * patch * patch + xs * patch * patch
    for i in range(0, patch):
        yy = ys + (i - max_displacement) * dilation
        row_ok = (yy >= 0) & (yy < height)
        for j in range(0, patch):
            xx = xs + (j - max_displacement) * dilation
            ok = in_row & (xx >= 0) & (xx < width) & row_ok
            b_tile = tl.load(b_ptr + n * b_sn + yy[:, None] * b_sh + xx[:, None] * b_sw
                             + cs[None, :] * b_sc,
                             mask=ok[:, None] & in_channels[None, :], other=0.).to(tl.float32)
            value = tl.sum(a_tile * b_tile, axis=1)
            tl.store(out_row + i * patch + j, value.to(out_ptr.dtype.element_ty), mask=in_row)


@triton.jit
def _correlation_backward(grad_ptr, f_ptr, out_ptr, height, width, channels, max_displacement,
                          dilation, f_sn, f_sc, f_sh, f_sw, o_sn, o_sc, o_sh, o_sw,
                          FOR_SECOND: tl.constexpr, BLOCK_W: tl.constexpr, BLOCK_C: tl.constexpr):
    """``out[n, :, y, x] = sum_ij g[n, y', x', ij] * f[n, :, y + s (i-d), x + s (j-d)]`` with
    ``(y', x') = (y, x)`` for the first input's gradient (``f`` = b). For the second's (``f`` = a)
    the offsets are negated and ``(y', x')`` is the shifted position."""
    row = tl.program_id(0)
    n = row // height
    y = row % height
    patch = 2 * max_displacement + 1
    sign = -1 if FOR_SECOND else 1
    xs = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    cs = tl.arange(0, BLOCK_C)
    in_row = xs < width
    in_channels = cs < channels
    ys = tl.full((BLOCK_W, ), 0, tl.int32) + y
    acc = tl.zeros((BLOCK_W, BLOCK_C), dtype=tl.float32)
    for i in range(0, patch):
        yy = ys + sign * (i - max_displacement) * dilation
        row_ok = (yy >= 0) & (yy < height)
        for j in range(0, patch):
            xx = xs + sign * (j - max_displacement) * dilation
            ok = in_row & (xx >= 0) & (xx < width) & row_ok
            f_tile = tl.load(f_ptr + n * f_sn + yy[:, None] * f_sh + xx[:, None] * f_sw
                             + cs[None, :] * f_sc,
                             mask=ok[:, None] & in_channels[None, :], other=0.).to(tl.float32)
            if FOR_SECOND:
                g_row, g_cols = n * height + yy, xx
            else:
                g_row, g_cols = row, xs
            g = tl.load(grad_ptr + (g_row * width + g_cols) * patch * patch + i * patch + j,
                        mask=ok, other=0.).to(tl.float32)
            acc += g[:, None] * f_tile
    tl.store(out_ptr + n * o_sn + y * o_sh + xs[:, None] * o_sw + cs[None, :] * o_sc,
             acc.to(out_ptr.dtype.element_ty), mask=in_row[:, None] & in_channels[None, :])


def _launch_settings(x: Tensor, max_displacement: int, dilation: int) -> tuple:
    """The grid, the size arguments and the block sizes for (N, C, H, W) features ``x``."""
    n, c, h, w = x.shape
    block_w = block_size(w, 32)
    blocks = dict(BLOCK_W=block_w, BLOCK_C=block_size(c, MAX_CHANNELS))
    return (n * h, triton.cdiv(w, block_w)), (h, w, c, max_displacement, dilation), blocks


def forward_launch(a: Tensor, b: Tensor, out: Tensor, max_displacement: int,
                   dilation: int) -> TritonLaunch:
    """The launch that writes the correlation of (N, C, H, W) ``a`` and ``b`` into the contiguous
    (N, H, W, P * P) ``out``."""
    grid, sizes, blocks = _launch_settings(a, max_displacement, dilation)
    return TritonLaunch(_correlation_forward, grid, (a, b, out, *sizes, *a.stride(), *b.stride()),
                        blocks)


def input_gradient_launch(grad: Tensor, features: Tensor, out: Tensor, max_displacement: int,
                          dilation: int, for_second: bool) -> TritonLaunch:
    """The launch that writes one input's gradient into ``out`` (N, C, H, W) from the contiguous
    (N, H, W, P * P) output gradient ``grad``; ``features`` is the other input."""
    grid, sizes, blocks = _launch_settings(features, max_displacement, dilation)
    return TritonLaunch(_correlation_backward, grid,
                        (grad, features, out, *sizes, *features.stride(), *out.stride()),
                        dict(FOR_SECOND=for_second, **blocks))


def forward(a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
    """The (N, P * P, H, W) channels-last correlation volume of (N, C, H, W) ``a`` and ``b``
    (any strides), in their dtype."""
    n, _, h, w = a.shape
    out = a.new_empty((n, h, w, (2 * max_displacement + 1)**2))
    forward_launch(a, b, out, max_displacement, dilation).run()
    return out.permute(0, 3, 1, 2)


def backward(grad: Tensor, a: Tensor, b: Tensor, max_displacement: int, dilation: int,
             needs_a: bool = True, needs_b: bool = True) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """The gradients for ``a`` and ``b`` (None where not needed), each laid out like its input,
    from the volume's (N, P * P, H, W) gradient."""
    grad = grad.permute(0, 2, 3, 1).contiguous()
    grad_a = grad_b = None
    if needs_a:
        grad_a = torch.empty_like(a)
        input_gradient_launch(grad, b, grad_a, max_displacement, dilation, False).run()
    if needs_b:
        grad_b = torch.empty_like(b)
        input_gradient_launch(grad, a, grad_b, max_displacement, dilation, True).run()
    return grad_a, grad_b


def refusal(a: Tensor, b: Tensor, max_displacement: int) -> Optional[str]:
    """Why the kernels do not take (N, C, H, W) features ``a`` and ``b``; None where they do:
    a dtype of :data:`DTYPES` (float64 would be summed in float32), at most :data:`MAX_CHANNELS`
    channels, and inputs and output within 32-bit offsets (:data:`.policy.INDEX_LIMIT`)."""
    n, c, h, w = a.shape
    if a.dtype not in DTYPES:
        return f'the Triton kernels take float32, float16 and bfloat16, not {a.dtype}'
    if c > MAX_CHANNELS:
        return f'the Triton kernels take at most {MAX_CHANNELS} channels, not {c}'
    if n * h * w * (2 * max_displacement + 1)**2 >= INDEX_LIMIT or not int32_addressable(a, b):
        return 'a tensor spans 2**31 elements or more (32-bit offsets)'
    return None
