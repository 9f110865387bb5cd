"""Silence the warnings every run prints that are known to be harmless here.

Only stdlib modules are imported, so that the filters are in place before MMEngine is first
imported. Each filter matches one message:

* ``pkg_resources is deprecated as an API``: MMEngine 0.10 imports ``pkg_resources``, which
  setuptools < 81 (a requirement of this package) still ships; where it is gone,
  :mod:`.compat.metadata` stands in for it.
* ``Fail to import ``MultiScaleDeformableAttention````: ``mmcv-lite`` has no compiled operators,
  and MMAction2 imports that one only for models other than MSNet, TSM and TSN.
"""
import re
import warnings

HARMLESS = (
    (UserWarning, 'pkg_resources is deprecated as an API'),
    (UserWarning, 'Fail to import ``MultiScaleDeformableAttention``'),
)


def silence_harmless_warnings() -> None:
    """Install one ``ignore`` filter per message of :data:`HARMLESS`."""
    for category, message in HARMLESS:
        warnings.filterwarnings('ignore', message=re.escape(message), category=category)
