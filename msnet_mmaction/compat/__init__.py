"""Fixes that make the PyPI releases of MMAction2 1.2.0 and MMEngine 0.10 work on today's stack.

Each fix checks whether it is needed and leaves a healthy installation alone. :func:`apply_compat`
applies those without which MMAction2 cannot be imported or its checkpoints cannot be loaded; it
runs when ``msnet_mmaction`` is imported, so ``custom_imports = dict(imports=['msnet_mmaction'])``
applies them before MMAction2's model registry is first populated. The others change behaviour
and are applied by this project's tools only: the CPU distributed set-up and the runner's process
count (``msnet_mmaction.apis.build_runner``).
"""
from .checkpoint import allow_mmengine_checkpoint_globals, explain_unsafe_checkpoint
from .config_paths import register_config_package
from .distributed import CPUDistributedDataParallel, init_cpu_distributed
from .drn import install_drn_placeholder
from .metadata import install_metadata_fallbacks
from .multimodal import skip_incompatible_multimodal
from .runner_log import name_processes_without_cuda


def apply_compat() -> None:
    """Apply the fixes without which MMAction2 cannot be imported, or its checkpoints loaded,
    where this installation needs them."""
    install_metadata_fallbacks()
    skip_incompatible_multimodal()
    install_drn_placeholder()
    allow_mmengine_checkpoint_globals()


__all__ = [
    'apply_compat', 'allow_mmengine_checkpoint_globals', 'explain_unsafe_checkpoint',
    'install_drn_placeholder', 'install_metadata_fallbacks', 'name_processes_without_cuda',
    'register_config_package',
    'skip_incompatible_multimodal', 'CPUDistributedDataParallel', 'init_cpu_distributed'
]
