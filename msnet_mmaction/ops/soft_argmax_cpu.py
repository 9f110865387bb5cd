"""The compiled CPU path of :func:`~msnet_mmaction.ops.kernel_soft_argmax` for inference (float32).

The kernel is ``csrc/soft_argmax_cpu.cpp``, built and loaded by :mod:`.cpu_library`. It reads the
correlation volume once and forms no volume-sized temporaries. It has no backward pass: where the
volume needs a gradient, the PyTorch path runs.
"""
import ctypes
from typing import Optional, Tuple

import torch
from torch import Tensor

from .cpu_library import CpuLibrary, check, kernel_of, usable


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
    """The compiled soft-argmax; None where the compiled kernels are off or unavailable."""
    return kernel_of(SoftArgmaxKernel)


def compiled_kernel_for(scores: Tensor) -> Optional[SoftArgmaxKernel]:
    """The compiled kernel where it applies to ``scores``: float32 on the CPU, no gradient needed."""
    if not usable(scores) or scores.dtype != torch.float32 or scores.requires_grad:
        return None
    return cpu_kernel()
