"""When the Triton kernels (the CUDA paths of the correlation and the soft-argmax) may run.

Triton ships with CUDA builds of PyTorch. Where it is missing or ``MSNET_MMACTION_TRITON=0``, the
pure-PyTorch paths run instead. Under Triton's interpreter (``TRITON_INTERPRET=1``) the kernels also
run on CPU tensors, which is how machines without a GPU test them.
"""
import functools
import importlib.util
import os

import torch

ENABLE_ENV = 'MSNET_MMACTION_TRITON'
# The correlation kernels hold a row of features as one (BLOCK_W, C) tile in registers; features
# with more channels run the PyTorch path.
MAX_CHANNELS = 256
# The kernels compute element offsets in 32-bit integers: each tensor they address must span fewer
# elements than this.
INDEX_LIMIT = 2**31


@functools.lru_cache(maxsize=None)
def triton_available() -> bool:
    """Whether Triton is importable and the Triton paths are not switched off."""
    return os.environ.get(ENABLE_ENV, '1') != '0' and importlib.util.find_spec('triton') is not None


def interpreting() -> bool:
    """Whether Triton runs kernels in its interpreter, on CPU tensors."""
    return os.environ.get('TRITON_INTERPRET') == '1'


def runnable_on(x: torch.Tensor) -> bool:
    """Whether a Triton kernel can take ``x``: Triton is there and ``x`` is on a CUDA device (or on
    the CPU under the interpreter), outside tracing and ``torch.compile``."""
    device_ok = x.device.type == 'cuda' or (x.device.type == 'cpu' and interpreting())
    return (device_ok and triton_available() and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing())


def int32_addressable(*tensors: torch.Tensor) -> bool:
    """Whether the last element of each tensor lies fewer than :data:`INDEX_LIMIT` elements past
    its first (for any strides)."""
    return all(
        sum((size - 1) * stride for size, stride in zip(t.shape, t.stride())) < INDEX_LIMIT
        for t in tensors)


def block_size(n: int, cap: int) -> int:
    """The power of two that covers ``n``, at most ``cap``."""
    return min(cap, 1 << max(n - 1, 0).bit_length())
