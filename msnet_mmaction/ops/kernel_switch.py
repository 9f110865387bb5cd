"""The one switch for the hand-written kernels.

``MSNET_MMACTION_KERNELS=0`` turns off the compiled CPU kernels and the Triton kernels: the
operators then run the reference formulation on every device. It is read at each call, so tests
and benchmarks can flip it in one process.
"""
import os

KERNELS_ENV = 'MSNET_MMACTION_KERNELS'


def kernels_enabled() -> bool:
    """Whether the operators may run their hand-written kernels."""
    return os.environ.get(KERNELS_ENV, '1') != '0'
