"""Config handling and runner construction shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from ..compat import init_cpu_distributed


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments that both tools take, spelled as in MMAction2."""
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Read ``args.config``, apply ``--cfg-options``, and set the work dir and launcher.

    The work dir defaults to ``./work_dirs/<config name>`` as in MMAction2.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.launcher = args.launcher
    return cfg


def enable_amp(cfg: Config) -> None:
    """Mixed precision (``--amp``): MMEngine's ``AmpOptimWrapper`` (float16 with loss scaling) on
    CUDA, :class:`~msnet_mmaction.engine.CPUAmpOptimWrapper` (bfloat16 autocast) without CUDA."""
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper'):
        raise ValueError(f'--amp needs OptimWrapper or AmpOptimWrapper, the config uses {wrapper}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)


def enable_auto_scale_lr(cfg: Config) -> None:
    """Scale the learning rate by the real total batch size (``--auto-scale-lr``)."""
    if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
        raise KeyError('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=...)` in the config')
    cfg.auto_scale_lr.enable = True


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone resumes from the work dir's latest checkpoint; with a path, from it."""
    if resume is None:
        return
    cfg.resume = True
    cfg.load_from = None if resume == 'auto' else resume


def build_runner(cfg: Config) -> Runner:
    """Build an MMEngine runner, taking the gloo/CPU DDP path when CUDA is unavailable.

    Adds :class:`~msnet_mmaction.engine.RandomStateHook` (generator states in checkpoints) unless
    the config already has it, and saves checkpoints with
    :class:`~msnet_mmaction.engine.AtomicCheckpointHook` where the config names the stock
    ``CheckpointHook``, so that a job killed while saving can still be resumed.
    """
    init_cpu_distributed(cfg, cfg.launcher)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') == 'CheckpointHook':
        checkpoint.type = 'AtomicCheckpointHook'
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') == 'RandomStateHook' for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='RandomStateHook')]
    if 'runner_type' in cfg:
        from mmaction.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
