"""Compile the Triton kernels for NVIDIA GPUs on a machine without one.

    python tools/compile_triton_kernels.py 80 90

Triton's interpreter (how tests/ops/test_triton_kernels.py runs the kernels without a GPU) executes
them as Python, so it accepts code that the compiler may reject. This tool compiles them to
machine code instead: the operators' own launch functions build launches on meta tensors, and
each is compiled, without running, for each GPU architecture given (compute capabilities, e.g.
80 for A100 and 90 for H100), through Triton's bundled ``ptxas``. It must run without ``TRITON_INTERPRET=1``, under which ``triton.jit`` yields Python
functions rather than kernels. Prints one line per compiled kernel and exits non-zero on the
first that fails.
"""
import sys
from typing import Dict, List

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from msnet_mmaction.ops import kernel_soft_argmax_triton, local_correlation_triton
from msnet_mmaction.ops.policy import TritonLaunch

TRITON_TYPES = {torch.float32: 'fp32', torch.float16: 'fp16', torch.bfloat16: 'bf16'}


def signature(launch: TritonLaunch) -> Dict[str, str]:
    """Triton's type for each argument, as the launch's values would specialise it."""
    kernel, constexprs = launch.kernel, launch.constexprs
    types = {}
    for name, value in zip(kernel.arg_names, list(launch.args) + [None] * len(constexprs)):
        if name in constexprs:
            types[name] = 'constexpr'
        elif isinstance(value, torch.Tensor):
            types[name] = '*' + TRITON_TYPES[value.dtype]
        elif isinstance(value, float):
            types[name] = 'fp32'
        else:
            types[name] = 'i32' if abs(value) < 2**31 else 'i64'
    return types


def representative_launches() -> List[TritonLaunch]:
    """The launches of the correlation (three dtypes, MSNet-R50's 64 channels and the largest
    tile) and the soft-argmax (d = 7 as in MSNet, d = 1 and d = 0 for other tile shapes), built
    on meta tensors by the operators' own launch functions."""
    launches = []
    for dtype, channels in ((torch.float32, 64), (torch.float16, 64), (torch.bfloat16, 64),
                            (torch.float32, local_correlation_triton.MAX_CHANNELS),
                            (torch.float32, 3)):
        a = torch.empty(56, channels, 28, 28, dtype=dtype, device='meta')
        volume = torch.empty(56, 28, 28, 225, dtype=dtype, device='meta')
        launches.append(local_correlation_triton.forward_launch(a, a, volume, 7, 1))
        launches.extend(local_correlation_triton.input_gradient_launch(volume, a, a, 7, 1, second)
                        for second in (False, True))
    for d in (7, 1, 0):
        scores = torch.empty(56, 28, 28, (2 * d + 1)**2, device='meta')
        displacement = scores.new_empty(56, 28, 28, 2)
        confidence = scores.new_empty(56, 28, 28)
        launches.append(kernel_soft_argmax_triton.forward_launch(scores, d, 5.0, 100.0,
                                                                 displacement, confidence))
        launches.append(kernel_soft_argmax_triton.backward_launch(scores, d, 5.0, 100.0,
                                                                  displacement, confidence, scores))
    return launches


def main(architectures: List[int]) -> None:
    for launch in representative_launches():
        kernel, constexprs = launch.kernel, launch.constexprs
        types = signature(launch)
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
