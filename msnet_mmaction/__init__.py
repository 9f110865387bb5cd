"""MotionSqueeze (MSNet) for MMAction2.

Importing this package applies the compatibility fixes in :mod:`msnet_mmaction.compat` and registers
``MotionSqueeze`` and ``MSNet`` in MMAction2's ``MODELS`` registry.
"""
from .compat import apply_compat
from .version import __version__

apply_compat()

from .models import MotionSqueeze, MSNet  # noqa: E402
from .ops import local_correlation  # noqa: E402

__all__ = ['__version__', 'MotionSqueeze', 'MSNet', 'local_correlation']
