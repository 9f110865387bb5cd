"""Local correlation between two feature maps (the cost volume of MotionSqueeze).

For a maximum displacement ``d`` and dilation ``s``, with ``P = 2 * d + 1``::

    out[n, i * P + j, y, x] = sum_c a[n, c, y, x] * b[n, c, y + (i - d) * s, x + (j - d) * s]

and zero where the second position falls outside the map; ``i`` indexes the vertical offset and ``j``
the horizontal one.

CPU float32/float64 tensors with dilation 1 go to the compiled kernel of
:mod:`~msnet_mmaction.ops.correlation_cpu`, and CUDA tensors (float32, float16, bfloat16) to the
Triton kernels of :mod:`~msnet_mmaction.ops.correlation_triton`. Everything else (other dilations
and float64 on the CPU, tracing and ``torch.compile``, a machine without a C++ compiler or without
Triton) runs the pure-PyTorch path below, one image at a time so temporaries stay small:

* Features are put channels-last and ``b`` is zero-padded by ``r = d * s`` on every side, giving
  ``bp`` of shape (H + 2r, W + 2r, C). Rows ``y, y + s, ..., y + (P - 1) s`` of ``bp`` are one
  contiguous (P * (W + 2r), C) block when ``s == 1`` (for ``s > 1`` rows are grouped by ``y mod s``
  first), so an overlapping-stride view gives every row ``y`` its block without copying.
* One batched product per image, ``a_row (W, C) @ block^T (C, P * (W + 2r))``, yields all vertical
  offsets at once; the wanted ``P`` horizontal offsets of column ``x`` lie on a diagonal band that a
  strided view reads out.
* The backward pass is the transposed product ``dense (W, P * (W + 2r)) @ block (P * (W + 2r), C)``
  with the output gradient scattered into the band of a zero buffer. The gradient for ``a`` uses
  blocks of ``b``; the gradient for ``b`` is the same computation on blocks of ``a`` with the output
  gradient flipped in (i, j) and shifted by each offset.

No (N, C, P*P, H, W) tensor is formed and the inputs are not copied as a batch: each image is put
channels-last on its own, per image the largest temporary is one (H, W, P * (W + 2r)) product, and
the output is the only batch-sized allocation of the forward pass (the backward adds the two
gradients). The output is a (N, P*P, H, W) view of a (N, H, W, P*P) tensor (channels-last memory),
which keeps reductions over displacements contiguous.
"""
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .correlation_cpu import CompiledCorrelation, compiled_kernel_for, to_channels_last
from .triton_support import MAX_CHANNELS, runnable_on


def _gradient_as_nchw(grad: Optional[Tensor]) -> Optional[Tensor]:
    """An (N, H, W, C) input gradient as the (N, C, H, W) view autograd expects; None stays None."""
    return None if grad is None else grad.permute(0, 3, 1, 2)


class _RowBlocks:
    """Geometry shared by the forward and backward products for one (H, W, d, s) setting."""

    def __init__(self, height: int, width: int, max_displacement: int, dilation: int) -> None:
        self.height, self.width = height, width
        self.patch = 2 * max_displacement + 1
        self.dilation = dilation
        self.radius = max_displacement * dilation
        self.padded_width = width + 2 * self.radius

    def residues(self):
        """Row groups ``y = q, q + s, ...``, each with its number of rows."""
        for q in range(min(self.dilation, self.height)):
            yield q, len(range(q, self.height, self.dilation))

    def blocks(self, padded: Tensor, q: int, rows: int) -> Tensor:
        """(rows, P * Wp, C) overlapping view: the P partner rows of each row of group ``q``."""
        group = padded[q::self.dilation]
        if self.dilation > 1:
            group = group.contiguous()
        wp, c = self.padded_width, padded.shape[-1]
        return group.as_strided((rows, self.patch * wp, c), (wp * c, c, 1))

    def band(self, products: Tensor) -> Tensor:
        """(rows, W, P, P) diagonal band of a contiguous (rows, W, P * Wp) buffer."""
        rows, w, wp, p = products.shape[0], self.width, self.padded_width, self.patch
        return products.as_strided((rows, w, p, p), (w * p * wp, p * wp + 1, wp, self.dilation))

    def padded_buffer(self, like: Tensor) -> Tensor:
        """A zero (H + 2r, W + 2r, C) buffer; :meth:`fill` rewrites only its interior."""
        h, w = self.height + 2 * self.radius, self.padded_width
        return like.new_zeros((h, w) + tuple(like.shape[2:]))

    def fill(self, buffer: Tensor, x: Tensor) -> Tensor:
        """Copy an (H, W, ...) map into the interior of a buffer from :meth:`padded_buffer`."""
        r = self.radius
        buffer[r:r + self.height, r:r + self.width] = x
        return buffer

    def correlate(self, a: Tensor, bp: Tensor, out: Tensor) -> None:
        """Forward for one image: ``a`` (H, W, C), padded ``bp``, ``out`` (H, W, P, P)."""
        for q, rows in self.residues():
            products = torch.bmm(a[q::self.dilation], self.blocks(bp, q, rows).transpose(1, 2))
            out[q::self.dilation] = self.band(products)

    def transposed(self, grad_band: Tensor, xp: Tensor, dense: Tensor, out: Tensor) -> None:
        """``out[y, x] = sum_ij grad_band[y, x, i, j] * xp[y + i*s, x + j*s]`` for one image.

        ``dense`` is a zero buffer of shape (ceil(H / s), W, P * Wp) whose band is overwritten here
        (positions off the band are never written, so they stay zero across calls).
        """
        for q, rows in self.residues():
            buffer = dense[:rows]
            self.band(buffer).copy_(grad_band[q::self.dilation])
            out[q::self.dilation] = torch.bmm(buffer, self.blocks(xp, q, rows))

    def shifted_flip(self, grad_band: Tensor, buffer: Tensor) -> Tensor:
        """``g'[y, x, i, j] = g[y + (i - d) s, x + (j - d) s, P-1-i, P-1-j]`` (zero outside).

        ``buffer`` comes from :meth:`padded_buffer` with trailing dims (P, P).
        """
        flipped = self.fill(buffer, grad_band.flip(2, 3))
        sy, sx, si, sj = flipped.stride()
        s = self.dilation
        return flipped.as_strided((self.height, self.width, self.patch, self.patch),
                                  (sy, sx, s * sy + si, s * sx + sj))


class _LocalCorrelation(torch.autograd.Function):

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, max_displacement: int, dilation: int) -> Tensor:
        n, _, h, w = a.shape
        geometry = _RowBlocks(h, w, max_displacement, dilation)
        p = geometry.patch
        out = a.new_empty((n, h, w, p, p))
        b_padded = geometry.padded_buffer(b[0].permute(1, 2, 0))
        for k in range(n):
            geometry.correlate(a[k].permute(1, 2, 0).contiguous(),
                               geometry.fill(b_padded, b[k].permute(1, 2, 0)), out[k])
        ctx.save_for_backward(a, b)
        ctx.geometry = geometry
        return out.view(n, h, w, p * p).permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        a, b = ctx.saved_tensors
        geometry: _RowBlocks = ctx.geometry
        n, c, h, w = a.shape
        p = geometry.patch
        grad = to_channels_last(grad_out).view(n, h, w, p, p)
        grad_a = a.new_empty((n, h, w, c)) if ctx.needs_input_grad[0] else None
        grad_b = a.new_empty((n, h, w, c)) if ctx.needs_input_grad[1] else None
        rows = -(-h // geometry.dilation)
        dense = a.new_zeros((rows, w, p * geometry.padded_width))
        features_padded = geometry.padded_buffer(a[0].permute(1, 2, 0))
        grad_padded = geometry.padded_buffer(grad[0])
        for k in range(n):
            if grad_a is not None:
                geometry.transposed(grad[k],
                                    geometry.fill(features_padded, b[k].permute(1, 2, 0)),
                                    dense, grad_a[k])
            if grad_b is not None:
                geometry.transposed(geometry.shifted_flip(grad[k], grad_padded),
                                    geometry.fill(features_padded, a[k].permute(1, 2, 0)),
                                    dense, grad_b[k])
        return _gradient_as_nchw(grad_a), _gradient_as_nchw(grad_b), None, None


def _triton_correlation(a: Tensor, b: Tensor, max_displacement: int,
                        required: bool) -> Optional[type]:
    """The Triton autograd function where its kernels take ``a`` and ``b``; None (or, if
    ``required``, an error) otherwise."""
    if runnable_on(a):
        from . import correlation_triton
        if correlation_triton.supports(a, b, max_displacement):
            return correlation_triton.TritonCorrelation
    if required:
        raise RuntimeError(
            "implementation='triton' needs Triton and a CUDA tensor (a CPU one under "
            f'TRITON_INTERPRET=1) of float32, float16 or bfloat16 with at most {MAX_CHANNELS} '
            f'channels, inputs and output of fewer than 2**31 elements, outside tracing; got '
            f'{a.dtype} {tuple(a.shape)} on {a.device}')
    return None


def local_correlation(a: Tensor,
                      b: Tensor,
                      max_displacement: int = 7,
                      dilation: int = 1,
                      *,
                      implementation: str = 'auto') -> Tensor:
    """Correlate every position of ``a`` with a (2d+1) x (2d+1) neighbourhood of ``b``.

    Args:
        a (Tensor): Features of the first frames, shape (N, C, H, W).
        b (Tensor): Features of the second frames, shape (N, C, H, W).
        max_displacement (int): ``d``, the largest offset in grid steps. Defaults to 7.
        dilation (int): Pixels between neighbouring grid steps. Defaults to 1.
        implementation (str): ``'auto'`` runs the compiled CPU kernel
            (:mod:`~msnet_mmaction.ops.correlation_cpu`) for float32/float64 CPU tensors with
            dilation 1 and the Triton kernels (:mod:`~msnet_mmaction.ops.correlation_triton`) for
            float32/float16/bfloat16 CUDA tensors, outside tracing and compilation, and the
            pure-PyTorch path otherwise; ``'pytorch'`` always runs the pure-PyTorch path and
            ``'triton'`` the Triton kernels (an error where they cannot run). All give the same
            values up to floating-point rounding. Defaults to ``'auto'``.

    Returns:
        Tensor: Shape (N, (2d+1)**2, H, W), displacement index ``k = i * (2d+1) + j``, stored
        channels-last.
    """
    if a.dim() != 4 or a.shape != b.shape:
        raise ValueError('local_correlation expects two (N, C, H, W) tensors of one shape, '
                         f'got {tuple(a.shape)} and {tuple(b.shape)}')
    if a.dtype != b.dtype or a.device != b.device:
        raise TypeError('local_correlation expects one dtype and device, got '
                        f'{a.dtype}/{a.device} and {b.dtype}/{b.device}')
    if max_displacement < 0 or dilation < 1:
        raise ValueError('max_displacement must be >= 0 and dilation >= 1, got '
                         f'{max_displacement} and {dilation}')
    if implementation not in ('auto', 'pytorch', 'triton'):
        raise ValueError("implementation must be 'auto', 'pytorch' or 'triton', got "
                         f'{implementation!r}')
    if implementation == 'triton' or (implementation == 'auto' and a.device.type == 'cuda'):
        triton_function = _triton_correlation(a, b, max_displacement,
                                               required=implementation == 'triton')
        if triton_function is not None:
            return triton_function.apply(a, b, max_displacement, dilation)
    if a.device.type == 'cpu' and a.dtype in (torch.float16, torch.bfloat16):
        # CPU matrix products in half precision are slow and accumulate coarsely; the op runs in
        # float32 there and returns the input dtype.
        out = local_correlation(a.float(), b.float(), max_displacement, dilation,
                                implementation=implementation)
        return out.to(a.dtype)
    kernel = compiled_kernel_for(a, dilation) if implementation == 'auto' else None
    if kernel is not None:
        return CompiledCorrelation.apply(a, b, max_displacement, kernel)
    return _LocalCorrelation.apply(a, b, max_displacement, dilation)
