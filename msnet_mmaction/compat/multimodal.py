"""MMAction2 1.2.0's multi-modal models (VindLU) with transformers 5 installed.

``mmaction.models`` imports VindLU whenever ``transformers>=4.28`` is installed, and VindLU imports
helpers that transformers 5 no longer has where it looks for them (``apply_chunking_to_forward``
from ``transformers.modeling_utils``, ``transformers.file_utils``). With transformers 5 in the
environment, as in many current GPU images, ``import mmaction.models`` therefore fails. There the
multi-modal switch is turned off before ``mmaction.models`` is first imported, so MMAction2
registers its own placeholders for the VindLU models, which explain at construction what they need.
"""
import importlib.metadata
import sys

from mmengine.utils import digit_version

MULTIMODAL_MODULE = 'mmaction.models.multimodal'
FIRST_INCOMPATIBLE_MAJOR = 5


def transformers_breaks_vindlu() -> bool:
    """Whether the installed transformers is too new for MMAction2 1.2.0's VindLU models."""
    try:
        version = importlib.metadata.version('transformers')
    except importlib.metadata.PackageNotFoundError:
        return False
    return digit_version(version)[0] >= FIRST_INCOMPATIBLE_MAJOR  # its pre-releases too


def skip_incompatible_multimodal() -> bool:
    """Turn MMAction2's multi-modal switch off where VindLU cannot be imported. Returns whether it
    did; once ``mmaction.models`` is imported it is too late, and nothing is changed."""
    if MULTIMODAL_MODULE in sys.modules or not transformers_breaks_vindlu():
        return False
    from mmaction.utils import dependency
    dependency.WITH_MULTIMODAL = False
    return True
