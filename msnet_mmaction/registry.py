"""This package's registries: one child of each of MMAction2's, under the scope ``msnet_mmaction``.

The modules themselves are registered in MMAction2's registries, so that MMAction2 configs (scope
``mmaction``) find them. A config that inherits ``msnet_mmaction::...`` gets that scope for the
entries it inherits, and MMEngine looks for a registry of that scope: these children, which find
everything in their parents.
"""
from mmengine.registry import Registry

import mmaction.registry as mmaction_registry

SCOPE = 'msnet_mmaction'


def _child(parent: Registry) -> Registry:
    return Registry(parent.name, parent=parent, scope=SCOPE, locations=[SCOPE])


#: {name in ``mmaction.registry``: its child}; creating a child attaches it to its parent.
REGISTRIES = {
    name: _child(parent)
    for name, parent in vars(mmaction_registry).items() if isinstance(parent, Registry)
}
