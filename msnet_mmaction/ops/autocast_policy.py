"""The operators' autocast policy: in an autocast region both compute in float32.

The soft-argmax's softmax at temperature 100 would amplify half-precision rounding of the scores
a hundredfold, and the correlation feeds it. The operators get the policy from
:func:`torch.library.register_autocast`; the reference formulations, plain PyTorch operations,
get the same from :func:`reference_in_float32`.
"""
from typing import Callable, TypeVar

import torch

DEVICES = ('cpu', 'cuda')
Result = TypeVar('Result')


def register_float32(op) -> None:
    """Cast the floating-point inputs of ``op`` to float32 in autocast regions on every device."""
    for device in DEVICES:
        torch.library.register_autocast(op, device, torch.float32)


def reference_in_float32(fn: Callable[..., Result], *tensors: torch.Tensor, **kwargs) -> Result:
    """``fn(*tensors, **kwargs)``, with the tensors in float32 and autocast off where it is on."""
    device = tensors[0].device.type
    if not torch.is_autocast_enabled(device):
        return fn(*tensors, **kwargs)
    with torch.autocast(device, enabled=False):
        return fn(*(t.float() for t in tensors), **kwargs)
