"""Configs that inherit this package's by name: ``_base_ = 'msnet_mmaction::msnet_r50_8f_sthv1.py'``.

MMEngine 0.10 resolves ``package::path`` for a fixed list of OpenMMLab packages, only for paths
with a folder (``mmaction::recognition/tsm/...``), and finds the package's files at its
distribution's location, which an editable install (PEP 660) does not hold. Importing
``msnet_mmaction`` adds it to that list, lets its config names stand without a folder, and finds
an installed package's directory from its module. The configs and the model index ship in the
package (``msnet_mmaction/.mim``), as OpenMMLab packages carry theirs.

MMEngine parses a config's ``_base_`` before it imports the config's ``custom_imports``, so the
process must have imported ``msnet_mmaction`` first: this repository's tools do, and so does a
script that imports it before ``Config.fromfile``.
"""
import functools
from typing import Tuple

PACKAGE = 'msnet_mmaction'
WRAPPED = '_msnet_resolves_package_configs'


def _resolving_this_package(original):

    @functools.wraps(original)
    def _get_package_and_cfg_path(cfg_path: str) -> Tuple[str, str]:
        package, _, path = cfg_path.partition('::')
        if package == PACKAGE and path and '::' not in path:
            return PACKAGE, path
        return original(cfg_path)

    setattr(_get_package_and_cfg_path, WRAPPED, True)
    return _get_package_and_cfg_path


def register_config_package() -> bool:
    """Let MMEngine's configs inherit ``msnet_mmaction::NAME.py``, once. Returns whether it did."""
    import mmengine.config.config as config_module
    from mmengine.config.utils import MODULE2PACKAGE

    from .metadata import get_installed_path
    if getattr(config_module._get_package_and_cfg_path, WRAPPED, False):
        return False
    MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
    config_module._get_package_and_cfg_path = _resolving_this_package(
        config_module._get_package_and_cfg_path)
    config_module.get_installed_path = get_installed_path
    return True
