"""The compiled CPU path of :func:`~msnet_mmaction.ops.kernel_soft_argmax` (float32).

The kernel is ``csrc/soft_argmax_cpu.cpp``, built and loaded by :mod:`.cpu_library`. It fuses the
ReLU, the confidence, the Gaussian window, the softmax and the weighted sum per position, and its
backward pass recomputes the softmax from the correlation volume, the only tensor it keeps.
"""
import ctypes
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .cpu_library import CpuLibrary, check, cpu_library, usable


class SoftArgmaxKernel:
    """The soft-argmax functions of a :class:`~.cpu_library.CpuLibrary`, on contiguous
    channels-last tensors: the volume (N, H, W, P * P), the displacement (N, H, W, 2) and the
    confidence (N, H, W)."""

    def __init__(self, library: CpuLibrary) -> None:
        self.library = library
        size, pointer, single = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
        tail = [size, size, single, single, ctypes.c_int]
        self._forward = library.function('msnet_soft_argmax_forward_f32', [pointer] * 3 + tail)
        self._backward = library.function('msnet_soft_argmax_backward_f32', [pointer] * 4 + tail)

    def forward(self, volume: Tensor, displacement: Tensor, confidence: Tensor,
                settings: Tuple[int, float, float]) -> None:
        check(self._forward(volume.data_ptr(), displacement.data_ptr(), confidence.data_ptr(),
                            volume.numel() // volume.shape[-1], *settings,
                            torch.get_num_threads()), 'soft-argmax')

    def backward(self, volume: Tensor, grad_displacement: Tensor, grad_confidence: Tensor,
                 grad_volume: Tensor, settings: Tuple[int, float, float]) -> None:
        check(self._backward(volume.data_ptr(), grad_displacement.data_ptr(),
                             grad_confidence.data_ptr(), grad_volume.data_ptr(),
                             volume.numel() // volume.shape[-1], *settings,
                             torch.get_num_threads()), 'soft-argmax')


def compiled_kernel_for(correlation: Tensor) -> Optional[SoftArgmaxKernel]:
    """The compiled kernel where it applies to ``correlation`` (float32 on the CPU), else None."""
    if not usable(correlation) or correlation.dtype != torch.float32:
        return None
    library = cpu_library()
    return None if library is None else SoftArgmaxKernel(library)


class CompiledSoftArgmax(torch.autograd.Function):
    """``kernel_soft_argmax`` through a :class:`SoftArgmaxKernel`; (N, P * P, H, W) in,
    displacement (N, 2, H, W) and confidence (N, 1, H, W) out."""

    @staticmethod
    def forward(ctx, correlation: Tensor, max_displacement: int, sigma: float, temperature: float,
                kernel: SoftArgmaxKernel) -> Tuple[Tensor, Tensor]:
        volume = correlation.permute(0, 2, 3, 1).contiguous()
        n, h, w, _ = volume.shape
        displacement, confidence = volume.new_empty((n, h, w, 2)), volume.new_empty((n, h, w))
        settings = (max_displacement, sigma, temperature)
        kernel.forward(volume, displacement, confidence, settings)
        ctx.save_for_backward(volume)
        ctx.settings, ctx.kernel = settings, kernel
        return displacement.permute(0, 3, 1, 2), confidence.unsqueeze(1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_displacement: Tensor, grad_confidence: Tensor):
        volume, = ctx.saved_tensors
        grad_volume = torch.empty_like(volume)
        ctx.kernel.backward(volume, grad_displacement.permute(0, 2, 3, 1).contiguous(),
                            grad_confidence.squeeze(1).contiguous(), grad_volume, ctx.settings)
        return grad_volume.permute(0, 3, 1, 2), None, None, None, None
