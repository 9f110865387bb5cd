"""MotionSqueeze (MSNet) for MMAction2.

Importing this package registers its modules with MMAction2 and MMEngine (models, datasets and a
dataset wrapper, a transform, hooks, an optimizer wrapper), the operators
``msnet_mmaction::local_correlation`` and ``msnet_mmaction::kernel_soft_argmax`` with PyTorch and
the correlation's count with ``torch.utils.flop_counter``, and its configs with MMEngine
(``_base_ = 'msnet_mmaction::msnet_r50_8f_sthv1.py'``). Beyond registering, it applies only the
fixes without which MMAction2 cannot be imported or its checkpoints loaded on today's stack
(:func:`msnet_mmaction.compat.apply_compat`), and silences two known harmless warnings;
docs/compatibility.md lists each. Everything that changes behaviour is turned on by a config or
by this project's tools.
"""
from .harmless_warnings import silence_harmless_warnings

silence_harmless_warnings()

from .compat import apply_compat, register_config_package  # noqa: E402
from .version import __version__  # noqa: E402

apply_compat()
register_config_package()

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
