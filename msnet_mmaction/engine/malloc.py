"""Keep freed memory in a CPU training or test process instead of handing it back to the kernel.

PyTorch's CPU allocator takes every tensor from ``malloc``. glibc serves blocks over its mmap
threshold (128 KiB, adapting up to 32 MiB) with fresh ``mmap`` calls, unmaps them on ``free`` and
trims the top of its heap. Each step's activations are therefore mapped again, and every page
is zero-filled by the kernel on first touch. Turning both off makes freed blocks reusable at
once (``tests/engine/test_malloc.py`` counts the page faults either way). The process keeps its peak
resident size afterwards, which a training process reaches every step anyway.
"""
import ctypes
import os
import platform
from typing import Optional

import torch

ENABLE_ENV = 'MSNET_MMACTION_KEEP_FREED_MEMORY'
# mallopt(3) parameters, from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def keep_freed_memory(device: Optional[str] = None) -> bool:
    """Configure glibc's malloc to keep freed blocks for reuse, when the model runs on the CPU.

    Sets ``M_MMAP_MAX`` to 0 (no block gets its own mapping) and ``M_TRIM_THRESHOLD`` to -1 (the
    heap is never trimmed), both documented in mallopt(3). Does nothing for other devices, on
    other C libraries, or when ``MSNET_MMACTION_KEEP_FREED_MEMORY=0``.

    Args:
        device (str, optional): The device the model runs on, e.g. ``'cpu'`` or ``'cuda:0'``.
            Defaults to None: the CPU unless CUDA is available, as MMEngine's runner chooses.

    Returns:
        bool: Whether the settings were applied.
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if not device.startswith('cpu') or os.environ.get(ENABLE_ENV, '1') == '0':
        return False
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, -1))
