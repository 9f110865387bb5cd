"""The compiled CPU path of :func:`~msnet_mmaction.ops.local_correlation` (dilation 1).

The kernel, ``csrc/correlation_cpu.cpp``, is plain C++ without PyTorch headers. On first use it is
compiled with the system C++ compiler for the CPU at hand (``-O3 -march=native``, about a second)
and loaded with :mod:`ctypes`. Builds are cached in ``$MSNET_MMACTION_CACHE`` (default
``~/.cache/msnet_mmaction``) under a name derived from the source, the compiler, the flags and the
CPU's instruction-set flags, so a cache shared by different machines (a cluster home directory)
holds one build per kind of CPU. A build is written under a temporary name and renamed into place,
so ranks that start together never load a half-written library.

Where no compiler is found or the build fails, :func:`cpu_kernel` warns once and returns None, and
the pure-PyTorch path runs instead. ``MSNET_MMACTION_CPU_KERNEL=0`` turns the compiled path off.
"""
import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

SOURCE = Path(__file__).with_name('csrc') / 'correlation_cpu.cpp'
FLAGS = ('-O3', '-march=native', '-std=c++17', '-shared', '-fPIC', '-pthread')
ENABLE_ENV = 'MSNET_MMACTION_CPU_KERNEL'
CACHE_ENV = 'MSNET_MMACTION_CACHE'
DTYPES = {torch.float32: 'f32', torch.float64: 'f64'}


class CorrelationKernel:
    """The loaded library. ``a`` and ``b`` are (N, C, H, W) with any strides; the output, its
    gradient and the input gradients are contiguous channels-last (N, H, W, ...) tensors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lib = ctypes.CDLL(str(path))
        size, pointer = ctypes.c_int64, ctypes.c_void_p
        for suffix in DTYPES.values():
            forward = getattr(self._lib, f'msnet_correlation_forward_{suffix}')
            forward.argtypes = [pointer] * 5 + [size] * 5 + [ctypes.c_int]
            backward = getattr(self._lib, f'msnet_correlation_backward_{suffix}')
            backward.argtypes = [pointer] * 7 + [size] * 5 + [ctypes.c_int]
            forward.restype = backward.restype = ctypes.c_int

    def forward(self, a: Tensor, b: Tensor, out: Tensor, max_displacement: int) -> None:
        """a, b: (N, C, H, W); out: contiguous (N, H, W, P * P)."""
        fn = getattr(self._lib, f'msnet_correlation_forward_{DTYPES[a.dtype]}')
        self._check(fn(*_tensor_args(a), *_tensor_args(b), out.data_ptr(), *a.shape,
                       max_displacement, torch.get_num_threads()))

    def backward(self, a: Tensor, b: Tensor, grad: Tensor, grad_a: Optional[Tensor],
                 grad_b: Optional[Tensor], max_displacement: int) -> None:
        """a, b: (N, C, H, W); grad: contiguous (N, H, W, P * P); grad_a, grad_b: contiguous
        (N, H, W, C) or None where not wanted."""
        fn = getattr(self._lib, f'msnet_correlation_backward_{DTYPES[a.dtype]}')
        self._check(fn(*_tensor_args(a), *_tensor_args(b), grad.data_ptr(),
                       None if grad_a is None else grad_a.data_ptr(),
                       None if grad_b is None else grad_b.data_ptr(), *a.shape, max_displacement,
                       torch.get_num_threads()))

    @staticmethod
    def _check(status: int) -> None:
        if status != 0:
            raise RuntimeError('the compiled correlation kernel failed (out of memory?); set '
                               f'{ENABLE_ENV}=0 to use the PyTorch path')


def _tensor_args(x: Tensor) -> tuple:
    return x.data_ptr(), (ctypes.c_int64 * 4)(*x.stride())


def _compiler() -> Optional[str]:
    for name in (os.environ.get('CXX'), 'c++', 'g++', 'clang++'):
        path = shutil.which(name) if name else None
        if path:
            return path
    return None


def _cpu_signature() -> str:
    """The instruction-set flags of this CPU (Linux), else the processor name."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith(('flags', 'Features')):
                    return line
    except OSError:
        pass
    return platform.machine() + platform.processor()


def cache_dir() -> Path:
    default = Path.home() / '.cache' / 'msnet_mmaction'
    return Path(os.environ.get(CACHE_ENV) or default)


def build(compiler: str, directory: Path) -> Path:
    """Compile the kernel into ``directory`` unless an identical build is there; return its path."""
    version = subprocess.run([compiler, '--version'], capture_output=True, text=True,
                             timeout=60).stdout
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), version.encode(), ' '.join(FLAGS).encode(),
                 _cpu_signature().encode()):
        key.update(part)
    target = directory / f'correlation_cpu-{key.hexdigest()[:16]}.so'
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=directory, prefix='.correlation_cpu-', suffix='.so')
    os.close(handle)
    try:
        result = subprocess.run([compiler, *FLAGS, str(SOURCE), '-o', partial],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f'{compiler} failed:\n{result.stderr[-2000:]}')
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return target


_lock = threading.Lock()
_loaded: dict = {}


def cpu_kernel() -> Optional[CorrelationKernel]:
    """The compiled kernel, built and loaded on first call; None where it is off or unavailable."""
    if os.environ.get(ENABLE_ENV, '1') == '0':
        return None
    directory = cache_dir()
    with _lock:
        if directory not in _loaded:
            _loaded[directory] = _load(directory)
        return _loaded[directory]


def _load(directory: Path) -> Optional[CorrelationKernel]:
    compiler = _compiler()
    try:
        if compiler is None:
            raise RuntimeError('no C++ compiler found (set CXX)')
        return CorrelationKernel(build(compiler, directory))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        warnings.warn(f'msnet_mmaction: the compiled CPU correlation is unavailable, using the '
                      f'PyTorch path instead ({error})')
        return None


def to_channels_last(x: Tensor) -> Tensor:
    """(N, C, H, W) -> contiguous (N, H, W, C); free for channels_last tensors."""
    return x.permute(0, 2, 3, 1).contiguous()


def gradient_as_nchw(grad: Optional[Tensor]) -> Optional[Tensor]:
    """An (N, H, W, C) input gradient as the (N, C, H, W) view autograd expects; None stays None."""
    return None if grad is None else grad.permute(0, 3, 1, 2)


class CompiledCorrelation(torch.autograd.Function):
    """``local_correlation`` with dilation 1 through a :class:`CorrelationKernel`."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, max_displacement: int,
                kernel: CorrelationKernel) -> Tensor:
        n, _, h, w = a.shape
        p = 2 * max_displacement + 1
        out = a.new_empty((n, h, w, p * p))
        kernel.forward(a, b, out, max_displacement)
        ctx.save_for_backward(a, b)
        ctx.max_displacement, ctx.kernel = max_displacement, kernel
        return out.permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        a, b = ctx.saved_tensors
        n, c, h, w = a.shape
        grad_a = a.new_empty((n, h, w, c)) if ctx.needs_input_grad[0] else None
        grad_b = a.new_empty((n, h, w, c)) if ctx.needs_input_grad[1] else None
        ctx.kernel.backward(a, b, to_channels_last(grad_out), grad_a, grad_b, ctx.max_displacement)
        return gradient_as_nchw(grad_a), gradient_as_nchw(grad_b), None, None
