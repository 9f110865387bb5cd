"""Stopping, or skipping the step, when the training loss is not finite."""
import math

import torch
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from mmengine.registry import HOOKS

from ..errors import ActionableError


class NonFiniteLossError(ActionableError):
    """The loss of a training iteration was NaN or infinite; the weights were not updated."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Check the loss before the optimizer wrapper applies it.

    A NaN or infinite loss would otherwise write NaN into every weight, and the next checkpoint
    would hold them. This hook checks the loss that ``OptimWrapper.update_params`` receives,
    before the backward pass, so the weights of a failed iteration are never touched. By
    default it stops the run with a :class:`NonFiniteLossError` that names the iteration; with
    ``skip=True`` it skips that iteration's update instead and logs a running count, as loss
    scaling skips the steps whose gradients overflow. ``tools/train.py`` adds it, with
    ``skip`` taken from the config's ``skip_nonfinite_loss``.

    The check reads the loss back from the device once per iteration, as the logger does.

    Args:
        skip (bool): Skip non-finite iterations instead of stopping. Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, skip: bool = False) -> None:
        self.skip = skip
        self.skipped = 0

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, OptimWrapper):
            return
        update = wrapper.update_params

        def checked_update(loss: torch.Tensor, *args, **kwargs):
            value = float(loss.detach().float().sum())
            if math.isfinite(value):
                return update(loss, *args, **kwargs)
            where = f'iteration {runner.iter + 1} (epoch {runner.epoch + 1})'
            if self.skip:
                self.skipped += 1
                wrapper.zero_grad()
                runner.logger.warning(f'skipped the update of {where}: the loss is {value} '
                                      f'({self.skipped} skipped so far)')
                return None
            raise NonFiniteLossError(
                f'the loss is {value} at {where}; the weights were not updated and the last '
                'checkpoint was saved before it. Lower the learning rate, check the data or use '
                'loss scaling, and continue with --resume; or skip such iterations with '
                '--cfg-options skip_nonfinite_loss=True')

        wrapper.update_params = checked_update
