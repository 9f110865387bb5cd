"""MotionSqueeze (MSNet) for MMAction2.

Importing this package applies the compatibility fixes in :mod:`msnet_mmaction.compat` and registers
``MotionSqueeze`` and ``MSNet`` in MMAction2's ``MODELS`` registry and ``SelectiveFlip`` in its
``TRANSFORMS`` registry.
"""
from .compat import apply_compat
from .version import __version__

apply_compat()

from .datasets import SelectiveFlip  # noqa: E402
from .engine import CPUAmpOptimWrapper  # noqa: E402
from .models import MotionSqueeze, MSNet  # noqa: E402
from .ops import local_correlation  # noqa: E402

__all__ = [
    '__version__', 'CPUAmpOptimWrapper', 'MotionSqueeze', 'MSNet', 'SelectiveFlip',
    'local_correlation'
]
