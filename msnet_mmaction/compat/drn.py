"""A stand-in for ``mmaction.models.localizers.drn``, which the mmaction2 1.2.0 wheel does not ship.

``mmaction/models/localizers/__init__.py`` imports it unconditionally, so without the stand-in
``import mmaction.models`` fails. The stand-in registers a ``DRN`` whose construction explains the gap.
"""
import importlib.util
import os.path as osp
import sys
import types

DRN_MODULE = 'mmaction.models.localizers.drn'


def installed_mmaction_ships_drn() -> bool:
    """Whether the installed mmaction2 has the DRN localizer sources on disk."""
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return True
    package_dir = list(spec.submodule_search_locations)[0]
    return osp.isdir(osp.join(package_dir, 'models', 'localizers', 'drn'))


def drn_is_missing() -> bool:
    """Whether ``mmaction.models.localizers.drn`` can neither be imported nor is already stood in for."""
    return DRN_MODULE not in sys.modules and not installed_mmaction_ships_drn()


class DRN:
    """Placeholder for MMAction2's DRN temporal grounding model."""

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError(
            'DRN is unavailable: the mmaction2 1.2.0 package on PyPI does not ship '
            '`mmaction/models/localizers/drn`. Install mmaction2 from its source repository to use DRN.')


def install_drn_placeholder() -> bool:
    """Insert the placeholder modules when the wheel lacks DRN. Returns whether it did."""
    if not drn_is_missing():
        return False
    from mmaction.registry import MODELS

    package = types.ModuleType(DRN_MODULE)
    package.__path__ = []
    module = types.ModuleType(f'{DRN_MODULE}.drn')
    module.DRN = DRN
    package.drn = module
    sys.modules[DRN_MODULE] = package
    sys.modules[module.__name__] = module
    MODELS.register_module(name='DRN', module=DRN, force=True)
    return True
