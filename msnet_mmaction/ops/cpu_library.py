"""The binding of the compiled CPU kernels (``csrc/*.cpp``): build, cache and load them as one
shared library, and call its C functions by the signatures of :data:`SIGNATURES`.

The kernels are plain C++ without PyTorch headers. On first use they are compiled with the system
C++ compiler for the CPU at hand (``-O3 -march=native``, a few seconds) and loaded with
:mod:`ctypes`. Builds are cached in ``$MSNET_MMACTION_CACHE`` (default ``~/.cache/msnet_mmaction``)
under a name derived from the sources, the compiler, the flags and the CPU's instruction-set flags,
so a cache shared by different machines (a cluster home directory) holds one build per kind of CPU.
A build is written under a temporary name and renamed into place, so ranks that start together
never load a half-written library.

Parallel work runs on the OpenMP runtime PyTorch has loaded, found in the process's memory map and
handed to the library as its ``GOMP_parallel`` entry point: PyTorch's worker threads keep spinning
for a while after each operator, and threads of the kernels' own would compete with them for the
cores. Without such a runtime the kernels start ``std::thread`` workers.

Every kernel returns a status; on failure :meth:`CpuLibrary.call` raises with the C++ error's
message, which ``msnet_last_error`` keeps for the calling thread. ``tests/ops/test_cpu_library.py``
reads the ``extern "C"`` prototypes of the sources and compares them with :data:`SIGNATURES`: a
mismatch would corrupt memory silently.

Where no compiler is found or the build fails, :func:`cpu_library` warns once and returns None, and
the operators run the reference formulation instead, as they do with ``MSNET_MMACTION_KERNELS=0``.
"""
import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from .policy import KERNELS_ENV, kernels_enabled

CSRC = Path(__file__).with_name('csrc')
FLAGS = ('-O3', '-march=native', '-std=c++17', '-shared', '-fPIC', '-pthread')
CACHE_ENV = 'MSNET_MMACTION_CACHE'

_PTR, _I64, _INT, _F32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_float
_STATUS = ctypes.c_int

#: {C function: (return type, argument types)} of the library's ``extern "C"`` interface. Pointers
#: of every kind are ``c_void_p``; a status is 0 on success.
SIGNATURES: Dict[str, Tuple[Optional[type], Tuple[type, ...]]] = {
    'msnet_use_openmp': (None, (_PTR, )),
    'msnet_last_error': (ctypes.c_char_p, ()),
    **{
        f'msnet_local_correlation_forward_{suffix}': (_STATUS, (_PTR, ) * 5 + (_I64, ) * 5 +
                                                      (_INT, ))
        for suffix in ('f32', 'f64')
    },
    **{
        f'msnet_local_correlation_backward_{suffix}': (_STATUS, (_PTR, ) * 9 + (_I64, ) * 5 +
                                                       (_INT, ))
        for suffix in ('f32', 'f64')
    },
    'msnet_kernel_soft_argmax_forward_f32': (_STATUS, (_PTR, ) * 3 + (_I64, ) * 4 + (_F32, ) * 3 +
                                             (_INT, )),
}
#: The suffix of each dtype's kernels.
DTYPE_SUFFIXES = {torch.float32: 'f32', torch.float64: 'f64'}


def sources() -> List[Path]:
    """The C++ sources and headers, in a fixed order."""
    return sorted(CSRC.glob('*.cpp')) + sorted(CSRC.glob('*.h'))


class CpuLibrary:
    """The loaded library: its path, the OpenMP runtime it runs on, and its C functions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lib = ctypes.CDLL(str(path))
        for name, (restype, argtypes) in SIGNATURES.items():
            function = getattr(self._lib, name)
            function.restype, function.argtypes = restype, list(argtypes)
        self.use_openmp(openmp_runtime())

    def use_openmp(self, runtime: Optional[str]) -> None:
        """Run parallel work on the OpenMP runtime at path ``runtime``; None: on ``std::thread``."""
        self.openmp = runtime
        self._lib.msnet_use_openmp(_gomp_parallel(runtime) if runtime else None)

    def call(self, name: str, *args) -> None:
        """Call the kernel ``name`` of :data:`SIGNATURES`; raise with its error message if it
        reports failure."""
        if getattr(self._lib, name)(*args) != 0:
            message = self._lib.msnet_last_error().decode(errors='replace')
            raise RuntimeError(f'the compiled CPU kernel {name} failed: {message} (set '
                               f'{KERNELS_ENV}=0 to use the reference formulation)')


def tensor_args(x: Optional[torch.Tensor]) -> tuple:
    """A 4-d tensor as a kernel takes it: data pointer and its four element strides; two nulls
    for None."""
    if x is None:
        return None, None
    return x.data_ptr(), (ctypes.c_int64 * 4)(*x.stride())


def openmp_runtime() -> Optional[str]:
    """Path of the OpenMP runtime PyTorch has loaded into this process (Linux), else None."""
    if not torch.backends.openmp.is_available():
        return None
    try:
        with open('/proc/self/maps') as f:
            paths = set(re.findall(r'\s(/\S*/lib(?:gomp|iomp5|omp)(?:-\w+)?\.so[.\d]*)$', f.read(), re.M))
    except OSError:
        return None
    torch_dir = str(Path(torch.__file__).parent)
    for path in sorted(paths, key=lambda p: not p.startswith(torch_dir)):
        if _gomp_parallel(path):
            return path
    return None


def _gomp_parallel(path: str) -> Optional[int]:
    try:
        return ctypes.cast(ctypes.CDLL(path).GOMP_parallel, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


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
    """Compile the library into ``directory`` unless an identical build is there; return its path."""
    version = subprocess.run([compiler, '--version'], capture_output=True, text=True,
                             timeout=60).stdout
    key = hashlib.sha256()
    for part in ([p.name.encode() + p.read_bytes() for p in sources()] +
                 [version.encode(), ' '.join(FLAGS).encode(), _cpu_signature().encode()]):
        key.update(part)
    target = directory / f'msnet_kernels-{key.hexdigest()[:16]}.so'
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=directory, prefix='.msnet_kernels-', suffix='.so')
    os.close(handle)
    try:
        cpp = [str(p) for p in sources() if p.suffix == '.cpp']
        result = subprocess.run([compiler, *FLAGS, *cpp, '-o', partial],
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


def cpu_library() -> Optional[CpuLibrary]:
    """The compiled library, built and loaded on first call; None where it is off or unavailable."""
    if not kernels_enabled():
        return None
    directory = cache_dir()
    with _lock:
        if directory not in _loaded:
            _loaded[directory] = _load(directory)
        return _loaded[directory]


def _load(directory: Path) -> Optional[CpuLibrary]:
    compiler = _compiler()
    try:
        if compiler is None:
            raise RuntimeError('no C++ compiler found (set CXX)')
        return CpuLibrary(build(compiler, directory))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        warnings.warn(f'msnet_mmaction: the compiled CPU kernels are unavailable, using the '
                      f'reference formulation instead ({error})')
        return None
