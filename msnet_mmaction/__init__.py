"""MotionSqueeze (MSNet) for MMAction2.

Importing this package applies the compatibility fixes in :mod:`msnet_mmaction.compat`, registers
``MotionSqueeze``, ``MSNet`` and ``InitCfgTSMHead`` in MMAction2's ``MODELS`` registry and ``SelectiveFlip`` in its
``TRANSFORMS`` registry, registers the operators ``msnet_mmaction::local_correlation`` and
``msnet_mmaction::kernel_soft_argmax`` with PyTorch, and adds the correlation's multiply-adds to
MMEngine's FLOP counter.
"""
from .harmless_warnings import silence_harmless_warnings

silence_harmless_warnings()

from .compat import apply_compat  # noqa: E402
from .version import __version__  # noqa: E402

apply_compat()

from .analysis import register_flop_counts  # noqa: E402
from .datasets import SelectiveFlip  # noqa: E402
from .engine import CPUAmpOptimWrapper  # noqa: E402
from .models import MotionSqueeze, MSNet  # noqa: E402
from .ops import local_correlation  # noqa: E402

register_flop_counts()

__all__ = [
    '__version__', 'CPUAmpOptimWrapper', 'MotionSqueeze', 'MSNet', 'SelectiveFlip',
    'local_correlation'
]
