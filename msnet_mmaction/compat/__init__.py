"""Fixes that make the PyPI releases of MMAction2 1.2.0 and MMEngine 0.10 work on today's stack.

Each fix checks whether it is needed and leaves a healthy installation alone. They run when
``msnet_mmaction`` is imported, so ``custom_imports = dict(imports=['msnet_mmaction'])`` applies them
before MMAction2's model registry is first populated.
"""
from .checkpoint import allow_mmengine_checkpoint_globals, explain_unsafe_checkpoint
from .distributed import CPUDistributedDataParallel, init_cpu_distributed
from .drn import install_drn_placeholder
from .metadata import install_metadata_fallbacks
from .multimodal import skip_incompatible_multimodal
from .runner_log import name_processes_without_cuda
from .sample_errors import BadSampleError, name_bad_samples


def apply_compat() -> None:
    """Apply every compatibility fix that this installation needs."""
    install_metadata_fallbacks()
    skip_incompatible_multimodal()
    install_drn_placeholder()
    allow_mmengine_checkpoint_globals()
    name_bad_samples()
    name_processes_without_cuda()


__all__ = [
    'apply_compat', 'allow_mmengine_checkpoint_globals', 'explain_unsafe_checkpoint',
    'install_drn_placeholder', 'install_metadata_fallbacks', 'name_bad_samples',
    'name_processes_without_cuda', 'skip_incompatible_multimodal', 'BadSampleError',
    'CPUDistributedDataParallel', 'init_cpu_distributed'
]
