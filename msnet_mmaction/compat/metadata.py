"""Packaging-metadata fallbacks.

* ``mmaction.utils.dependency`` imports the ``importlib_metadata`` backport without declaring it; the
  standard library's ``importlib.metadata`` has the same API, so it stands in when the backport is absent.
* MMEngine resolves ``mmaction::`` config paths through ``pkg_resources``, which setuptools 81 removed.
  Where it is missing, MMEngine's two helpers are replaced by ``importlib.metadata`` equivalents.
"""
import importlib.metadata
import importlib.util
import os.path as osp
import sys


def _module_importable(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _top_level_module(distribution: importlib.metadata.Distribution) -> str:
    top_level = distribution.read_text('top_level.txt')
    if top_level:
        return top_level.split()[0]
    return distribution.metadata['Name'].replace('-', '_')


def is_installed(package: str) -> bool:
    """Whether ``package`` is installed as a distribution or importable as a module."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """The directory of the top-level module that distribution ``package`` installs, found from
    the module itself: an editable install (PEP 660) keeps its files outside the distribution's
    location."""
    try:
        module = _top_level_module(importlib.metadata.distribution(package))
    except importlib.metadata.PackageNotFoundError:
        module = package
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise importlib.metadata.PackageNotFoundError(package)
    return osp.dirname(spec.origin)


def install_metadata_fallbacks() -> None:
    """Stand in for ``importlib_metadata`` and ``pkg_resources`` where they are missing."""
    if not _module_importable('importlib_metadata'):
        sys.modules['importlib_metadata'] = importlib.metadata
    if not _module_importable('pkg_resources'):
        import mmengine.config.config
        import mmengine.hub.hub
        import mmengine.utils
        import mmengine.utils.package_utils
        for module in (mmengine.utils, mmengine.utils.package_utils, mmengine.config.config,
                       mmengine.hub.hub):
            if hasattr(module, 'is_installed'):
                module.is_installed = is_installed
            if hasattr(module, 'get_installed_path'):
                module.get_installed_path = get_installed_path
