"""Compile the Triton kernels for NVIDIA GPUs on a machine without one.

    python tools/compile_triton_kernels.py 80 90

Triton's interpreter (how tests/test_triton_kernels.py runs the kernels without a GPU) executes
them as Python, so it accepts code that the compiler may reject. This tool compiles them to
machine code instead: the operators' own launch functions are run on meta tensors with each
kernel replaced by a recorder, and every launch recorded is compiled for each GPU architecture
given (compute capabilities, e.g. 80 for A100 and 90 for H100), through Triton's bundled
``ptxas``. It must run without ``TRITON_INTERPRET=1``, under which ``triton.jit`` yields Python
functions rather than kernels. Prints one line per compiled kernel and exits non-zero on the
first that fails.
"""
import sys
from typing import Dict, List, Tuple

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from msnet_mmaction.ops import correlation_triton, soft_argmax_triton

TRITON_TYPES = {torch.float32: 'fp32', torch.float16: 'fp16', torch.bfloat16: 'bf16'}


class Recorder:
    """Stands in for a ``triton.jit`` kernel: ``recorder[grid](*args, **constexprs)`` keeps the
    launch instead of running it."""

    def __init__(self, kernel) -> None:
        self.kernel = kernel
        self.launches: List[Tuple[tuple, dict]] = []

    def __getitem__(self, grid):
        return lambda *args, **constexprs: self.launches.append((args, constexprs))


def signature(kernel, args: tuple, constexprs: dict) -> Dict[str, str]:
    """Triton's type for each argument, as a launch with these values would specialise it."""
    types = {}
    for name, value in zip(kernel.arg_names, list(args) + [None] * len(constexprs)):
        if name in constexprs:
            types[name] = 'constexpr'
        elif isinstance(value, torch.Tensor):
            types[name] = '*' + TRITON_TYPES[value.dtype]
        elif isinstance(value, float):
            types[name] = 'fp32'
        else:
            types[name] = 'i32' if abs(value) < 2**31 else 'i64'
    return types


def record_launches() -> List[Recorder]:
    """The launches of the correlation (three dtypes, MSNet-R50's 64 channels and the largest
    tile) and the soft-argmax (d = 7 as in MSNet, d = 1 and d = 0 for other tile shapes)."""
    forward = Recorder(correlation_triton._correlation_forward)
    backward = Recorder(correlation_triton._correlation_backward)
    correlation_triton._correlation_forward = forward
    correlation_triton._correlation_backward = backward
    for dtype, channels in ((torch.float32, 64), (torch.float16, 64), (torch.bfloat16, 64),
                            (torch.float32, correlation_triton.MAX_CHANNELS), (torch.float32, 3)):
        a = torch.empty(56, channels, 28, 28, dtype=dtype, device='meta')
        correlation_triton.forward(a, a, 7, 1)
        correlation_triton.backward(torch.empty(56, 225, 28, 28, dtype=dtype, device='meta'), a,
                                    a, 7, 1)
    soft_forward = Recorder(soft_argmax_triton._soft_argmax_forward)
    soft_backward = Recorder(soft_argmax_triton._soft_argmax_backward)
    soft_argmax_triton._soft_argmax_forward = soft_forward
    soft_argmax_triton._soft_argmax_backward = soft_backward
    for d in (7, 1, 0):
        volume = torch.empty(56, (2 * d + 1)**2, 28, 28, device='meta')
        soft_argmax_triton.forward(volume, d, 5.0, 100.0)
        soft_argmax_triton.backward(volume.new_empty(56, 2, 28, 28),
                                    volume.new_empty(56, 1, 28, 28), volume, d, 5.0, 100.0)
    return [forward, backward, soft_forward, soft_backward]


def main(architectures: List[int]) -> None:
    for recorder in record_launches():
        kernel = recorder.kernel
        for args, constexprs in recorder.launches:
            types = signature(kernel, args, constexprs)
            source = ASTSource(
                fn=kernel, signature=types,
                constexprs={(kernel.arg_names.index(k), ): v for k, v in constexprs.items()})
            for arch in architectures:
                compiled = triton.compile(source, target=GPUTarget('cuda', arch, 32))
                pointers = sorted({t for t in types.values() if t.startswith('*')})
                print(f'sm_{arch} {kernel.__name__} {constexprs} {pointers}: '
                      f'{len(compiled.asm["cubin"])} bytes of cubin', flush=True)


if __name__ == '__main__':
    main([int(arch) for arch in sys.argv[1:]])
