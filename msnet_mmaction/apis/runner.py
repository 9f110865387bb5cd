"""Config handling and runner construction shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner, find_latest_checkpoint

from ..compat import init_cpu_distributed, name_processes_without_cuda
from ..datasets import name_sample_errors
from ..datasets.video_decoders import apply_decoder_switch
from ..engine import check_resume_checkpoint


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


def amp_dtype(device: str) -> torch.dtype:
    """The dtype ``--amp`` computes in on ``device``: float16 on CUDA, bfloat16 on the CPU."""
    return torch.float16 if str(device).startswith('cuda') else torch.bfloat16


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
    """``--resume`` alone resumes from the work dir's latest checkpoint; with a path, from it.

    The checkpoint it will resume from is checked first
    (:func:`~msnet_mmaction.engine.check_resume_checkpoint`): a damaged one stops the run with
    an error that names the newest intact checkpoint.
    """
    if resume is None:
        return
    cfg.resume = True
    cfg.load_from = None if resume == 'auto' else resume
    path = resume_checkpoint(cfg)
    if path is not None:
        check_resume_checkpoint(path, cfg.work_dir)


def resume_checkpoint(cfg: Config) -> Optional[str]:
    """The checkpoint MMEngine's runner resumes from for ``cfg``, if any: ``load_from``, else
    the one the work dir's ``last_checkpoint`` names."""
    if cfg.get('load_from'):
        return cfg.load_from
    if not osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint')):
        return None
    return find_latest_checkpoint(cfg.work_dir)


def compile_test_step(runner: Runner) -> bool:
    """Compile the model's ``test_step`` as the config's ``compile`` option asks.

    MMEngine's runner applies ``compile`` (``True`` or the keyword arguments of
    ``torch.compile``) to ``train_step`` only; ``tools/test.py`` applies it to ``test_step`` the
    same way. Returns whether it compiled.
    """
    options = runner.cfg.get('compile')
    if not options:
        return False
    options = {} if options is True else dict(options)
    runner.model.test_step = torch.compile(runner.model.test_step, **options)
    runner.logger.info(f'test_step compiled with torch.compile({options}); the first batches '
                       'compile it')
    return True


def build_runner(cfg: Config) -> Runner:
    """Build an MMEngine runner, taking the gloo/CPU DDP path when CUDA is unavailable.

    Turns on, for the tools, what the paper configs turn on themselves: adds
    :class:`~msnet_mmaction.engine.RandomStateHook` (generator states in checkpoints) and
    :class:`~msnet_mmaction.engine.NonFiniteLossHook` (``skip`` from the config's
    ``skip_nonfinite_loss``) unless the config already has them, saves checkpoints with
    :class:`~msnet_mmaction.engine.AtomicCheckpointHook` where the config names the stock
    ``CheckpointHook``, so that a job killed while saving can still be resumed, and names the
    samples that fail to load in every dataset
    (:func:`~msnet_mmaction.datasets.name_sample_errors`), whose decoder switch applies to stock
    dataset types too (:func:`~msnet_mmaction.datasets.video_decoders.apply_decoder_switch`).
    Without CUDA, the runner's environment log counts processes rather than GPUs.
    """
    init_cpu_distributed(cfg, cfg.launcher)
    name_processes_without_cuda()
    apply_decoder_switch(cfg)
    name_sample_errors(cfg)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') == 'CheckpointHook':
        checkpoint.type = 'AtomicCheckpointHook'
    hooks = list(cfg.get('custom_hooks') or [])
    present = {h.get('type') for h in hooks}
    hooks += [dict(type=name) for name in ('RandomStateHook', 'NonFiniteLossHook')
              if name not in present]
    for hook in hooks:
        if hook.get('type') == 'NonFiniteLossHook':
            hook.setdefault('skip', bool(cfg.get('skip_nonfinite_loss')))
    cfg.custom_hooks = hooks
    if 'runner_type' in cfg:
        from mmaction.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
