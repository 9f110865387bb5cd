"""Distributed data parallel on machines without CUDA.

MMEngine 0.10's PyTorch launcher calls ``torch.cuda.set_device`` unconditionally and its runner wraps
models with ``device_ids=[local_rank]``, which DDP rejects for CPU modules. When CUDA is absent, the
process group is created here with gloo before the runner is built (the runner then skips its own
initialisation), and the model is wrapped by :class:`CPUDistributedDataParallel`.
"""
import os
import subprocess

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """MMEngine's DDP wrapper that drops ``device_ids`` for modules living on the CPU."""

    def __init__(self, module: torch.nn.Module, device_ids=None, **kwargs) -> None:
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        super().__init__(module=module, device_ids=None if on_cpu else device_ids, **kwargs)


def init_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Set up gloo-based DDP when ``launcher`` asks for distribution and CUDA is unavailable.

    Returns whether the CPU path was taken. ``cfg`` is updated in place: the dist backend becomes gloo
    and the model wrapper :class:`CPUDistributedDataParallel`.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(f'CPU distributed training supports the pytorch and slurm launchers, not {launcher!r}')
    if launcher == 'slurm':
        _export_slurm_environment()
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    wrapper_cfg = cfg.get('model_wrapper_cfg') or {}
    if wrapper_cfg.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper_cfg['type'] = 'CPUDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper_cfg
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    return True


def _export_slurm_environment() -> None:
    """Translate SLURM's variables into the ones ``init_process_group`` reads."""
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        host = subprocess.check_output(['scontrol', 'show', 'hostnames', node_list], text=True).split()[0]
        os.environ['MASTER_ADDR'] = host
