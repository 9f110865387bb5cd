"""What both operators share: the switch for the hand-written kernels, the dtypes, autocast, and
how a Triton kernel is launched.

Each operator decides its code path in one function (:func:`.local_correlation.local_correlation_path`,
:func:`.kernel_soft_argmax.kernel_soft_argmax_path`) from the rules here and the limits of its own
kernels, and returns a :class:`KernelPath` that says which code runs, in which dtype, and why.

``MSNET_MMACTION_KERNELS`` is read at each call, so tests and benchmarks can flip it in one
process:

* unset or ``1``: each device's hand-written kernel where it takes the inputs (the compiled C++
  kernels on the CPU, the Triton kernels on CUDA), the reference formulation otherwise;
* ``0``: the reference formulation on every device;
* ``triton``: as ``1``, and with Triton's interpreter on (``TRITON_INTERPRET=1``) the Triton kernels
  also run on CPU tensors, which is how machines without a GPU test them through the operators.
"""
import functools
import importlib.util
import os
from typing import Callable, NamedTuple, Optional, TypeVar

import torch

KERNELS_ENV = 'MSNET_MMACTION_KERNELS'
IMPLEMENTATIONS = ('auto', 'reference')
HALF_DTYPES = (torch.float16, torch.bfloat16)
AUTOCAST_DEVICES = ('cpu', 'cuda')

#: The code paths an operator can take.
CPU_KERNEL = 'cpu-kernel'
TRITON = 'triton'
REFERENCE = 'reference'

# The Triton kernels compute element offsets in 32-bit integers: each tensor they address must
# span fewer elements than this.
INDEX_LIMIT = 2**31

Result = TypeVar('Result')


class KernelPath(NamedTuple):
    """The code that runs an operator for given inputs.

    Attributes:
        kernel (str): :data:`CPU_KERNEL`, :data:`TRITON` or :data:`REFERENCE`.
        dtype (torch.dtype): The dtype the inputs are computed in; the outputs are returned in the
            inputs' dtype.
        reason (str): Why this path, in words, for reports and error messages.
    """
    kernel: str
    dtype: torch.dtype
    reason: str


def kernels_enabled() -> bool:
    """Whether the operators may run their hand-written kernels."""
    return os.environ.get(KERNELS_ENV, '1') != '0'


@functools.lru_cache(maxsize=None)
def triton_installed() -> bool:
    """Whether Triton can be imported (it ships with CUDA builds of PyTorch)."""
    return importlib.util.find_spec('triton') is not None


def switched_off() -> Optional[str]:
    """Why the hand-written kernels may not run; None where they may."""
    return None if kernels_enabled() else f'{KERNELS_ENV}=0'


def triton_refusal(device: torch.device) -> Optional[str]:
    """Why the Triton kernels do not run on ``device``; None where they do (CUDA with Triton, or
    the CPU under ``MSNET_MMACTION_KERNELS=triton`` and ``TRITON_INTERPRET=1``)."""
    if device.type == 'cpu':
        interpreted = (os.environ.get(KERNELS_ENV) == 'triton'
                       and os.environ.get('TRITON_INTERPRET') == '1')
        if not interpreted:
            return 'not a CUDA tensor'
    elif device.type != 'cuda':
        return f'no hand-written kernel for {device.type} tensors'
    if not triton_installed():
        return 'Triton is not installed'
    return None


def compute_dtype(dtype: torch.dtype, kernel_dtypes: tuple) -> torch.dtype:
    """The dtype a kernel taking ``kernel_dtypes`` computes ``dtype`` inputs in: their own, or
    float32 for half-precision inputs it does not take."""
    if dtype in HALF_DTYPES and dtype not in kernel_dtypes:
        return torch.float32
    return dtype


def check_implementation(implementation: str) -> None:
    """Raise unless ``implementation`` is one of :data:`IMPLEMENTATIONS`."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, '
                         f'got {implementation!r}')


def register_float32(op) -> None:
    """Cast the floating-point inputs of ``op`` to float32 in autocast regions on every device,
    and run it with autocast off.

    The soft-argmax's softmax at temperature 100 would amplify half-precision rounding of the
    scores a hundredfold, and the correlation feeds it. The backward operators are registered
    too: a backward pass run inside an autocast region would otherwise compute their plain
    PyTorch fallbacks in half precision.
    """
    for device in AUTOCAST_DEVICES:
        torch.library.register_autocast(op, device, torch.float32)


def reference_in_float32(fn: Callable[..., Result], *tensors: torch.Tensor, **kwargs) -> Result:
    """``fn(*tensors, **kwargs)``, with the tensors in float32 and autocast off where it is on:
    the operators' autocast policy for the reference formulations, which are plain PyTorch."""
    device = tensors[0].device.type
    if not torch.is_autocast_enabled(device):
        return fn(*tensors, **kwargs)
    with torch.autocast(device, enabled=False):
        return fn(*(t.float() for t in tensors), **kwargs)


def int32_addressable(*tensors: torch.Tensor) -> bool:
    """Whether the last element of each tensor lies fewer than :data:`INDEX_LIMIT` elements past
    its first (for any strides)."""
    return all(
        sum((size - 1) * stride for size, stride in zip(t.shape, t.stride())) < INDEX_LIMIT
        for t in tensors)


def block_size(n: int, cap: int) -> int:
    """The power of two that covers ``n``, at most ``cap``."""
    return min(cap, 1 << max(n - 1, 0).bit_length())


class TritonLaunch(NamedTuple):
    """One launch of a ``triton.jit`` kernel: ``kernel[grid](*args, **constexprs)``.

    Built apart from running, so that a launch can be inspected (its device, its argument types)
    or compiled ahead of time without a GPU.
    """
    kernel: object
    grid: tuple
    args: tuple
    constexprs: dict

    @property
    def device(self) -> torch.device:
        """The device of the launch's tensors (they share one)."""
        return next(a.device for a in self.args if isinstance(a, torch.Tensor))

    def run(self) -> None:
        """Launch on the device of the tensors, whichever CUDA device is current."""
        device = self.device
        if device.type == 'cuda':
            with torch.cuda.device(device):
                self.kernel[self.grid](*self.args, **self.constexprs)
        else:
            self.kernel[self.grid](*self.args, **self.constexprs)
