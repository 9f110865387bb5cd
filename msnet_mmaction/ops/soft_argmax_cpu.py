"""The compiled CPU forward kernel of ``msnet_mmaction::kernel_soft_argmax`` (float32).

The kernel is ``csrc/soft_argmax_cpu.cpp``, built and loaded by :mod:`.cpu_library`. It reads the
correlation volume once and forms no volume-sized temporaries. The operator's backward pass is the
reference's (:func:`.soft_argmax_reference.soft_argmax_backward`), which recomputes the weights.
"""
import ctypes
from typing import Optional, Tuple

import torch
from torch import Tensor

from .cpu_library import CpuLibrary, check, kernel_of
from .soft_argmax_reference import LOGIT_RANGE


class SoftArgmaxKernel:
    """The soft-argmax function of a :class:`~.cpu_library.CpuLibrary`."""

    def __init__(self, library: CpuLibrary) -> None:
        size, pointer, real = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
        self._forward = library.function('msnet_soft_argmax_forward_f32',
                                         [pointer] * 3 + [size] * 4 + [real] * 3 + [ctypes.c_int])

    def __call__(self, scores: Tensor, max_displacement: int, sigma: float, temperature: float,
                 logit_range: float) -> Tuple[Tensor, Tensor]:
        """Displacement (N, 2, H, W) and confidence (N, 1, H, W) from a contiguous
        (N, H, W, P * P) float32 volume."""
        n, h, w, _ = scores.shape
        displacement = scores.new_empty((n, h, w, 2))
        confidence = scores.new_empty((n, h, w))
        check(self._forward(scores.data_ptr(), displacement.data_ptr(), confidence.data_ptr(), n,
                            h, w, max_displacement, sigma, temperature, logit_range,
                            torch.get_num_threads()), 'soft-argmax')
        return displacement.permute(0, 3, 1, 2), confidence.unsqueeze(1)


def cpu_kernel() -> Optional[SoftArgmaxKernel]:
    """The compiled soft-argmax; None where the hand-written kernels are off or unavailable."""
    return kernel_of(SoftArgmaxKernel)


def supports(correlation: Tensor) -> bool:
    """Whether the kernel takes the CPU volume: float32, and the compiled library at hand."""
    return correlation.dtype == torch.float32 and cpu_kernel() is not None


def forward(correlation: Tensor, max_displacement: int, sigma: float,
            temperature: float) -> Tuple[Tensor, Tensor]:
    """Displacement (N, 2, H, W) and confidence (N, 1, H, W) of an (N, P * P, H, W) volume."""
    scores = correlation.permute(0, 2, 3, 1).contiguous()
    return cpu_kernel()(scores, max_displacement, sigma, temperature, LOGIT_RANGE)
