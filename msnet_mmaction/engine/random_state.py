"""Saving and restoring the random number generators with checkpoints, for exact resumption."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the Python, NumPy and torch (CPU and CUDA) generator states in every checkpoint and
    restore them on ``--resume``, so that dropout and random augmentation after a resume draw
    what an uninterrupted run would have drawn. Only plain types and tensors are stored, so the
    checkpoint still loads with ``weights_only=True``.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        checkpoint['random_state'] = dict(
            python=random.getstate(),
            numpy=[name, keys.tolist(), pos, has_gauss, gauss],
            torch=torch.get_rng_state(),
            cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('random_state')
        if state is None:
            return
        random.setstate(state['python'])
        name, keys, pos, has_gauss, gauss = state['numpy']
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(state['torch'])
        if state['cuda'] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
