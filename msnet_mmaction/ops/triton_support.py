"""What the Triton kernels (the CUDA kernels of both operators) share: whether Triton is there,
and the limits of their addressing and tiles.

Triton ships with CUDA builds of PyTorch. Where it is missing, or ``MSNET_MMACTION_KERNELS=0``,
the operators run the reference formulation on CUDA tensors. Under Triton's interpreter
(``TRITON_INTERPRET=1``) the kernels' launch functions also take CPU tensors, which is how
machines without a GPU test them.
"""
import functools
import importlib.util

import torch

from .kernel_switch import kernels_enabled

# The correlation kernels hold a row of features as one (BLOCK_W, C) tile in registers; features
# with more channels run the reference.
MAX_CHANNELS = 256
# The kernels compute element offsets in 32-bit integers: each tensor they address must span fewer
# elements than this.
INDEX_LIMIT = 2**31


@functools.lru_cache(maxsize=None)
def _installed() -> bool:
    return importlib.util.find_spec('triton') is not None


def triton_available() -> bool:
    """Whether Triton is importable and the hand-written kernels are not switched off."""
    return kernels_enabled() and _installed()


def int32_addressable(*tensors: torch.Tensor) -> bool:
    """Whether the last element of each tensor lies fewer than :data:`INDEX_LIMIT` elements past
    its first (for any strides)."""
    return all(
        sum((size - 1) * stride for size, stride in zip(t.shape, t.stride())) < INDEX_LIMIT
        for t in tensors)


def block_size(n: int, cap: int) -> int:
    """The power of two that covers ``n``, at most ``cap``."""
    return min(cap, 1 << max(n - 1, 0).bit_length())
