"""MMEngine's runner logs ``GPU number: 1`` on a machine without CUDA.

The figure is the number of processes (the world size), whatever the device. Where CUDA is not
available, the runner's environment log names it ``processes (no CUDA GPU)`` instead.
"""
import functools
import logging

import torch

WRAPPED = '_msnet_names_processes'


class _RenameGPUNumber(logging.Filter):

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = record.msg.replace('\n    GPU number: ', '\n    processes (no CUDA GPU): ')
        return True


def name_processes_without_cuda() -> bool:
    """Wrap ``Runner._log_env``, once. Returns whether it did."""
    from mmengine.runner import Runner
    if getattr(Runner, WRAPPED, False):
        return False
    log_env = Runner._log_env

    @functools.wraps(log_env)
    def _log_env(self, env_cfg: dict) -> None:
        if torch.cuda.is_available():
            return log_env(self, env_cfg)
        rename = _RenameGPUNumber()
        self.logger.addFilter(rename)
        try:
            return log_env(self, env_cfg)
        finally:
            self.logger.removeFilter(rename)

    Runner._log_env = _log_env
    setattr(Runner, WRAPPED, True)
    return True
