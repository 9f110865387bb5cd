"""Mixed precision on CPU: MMEngine's ``AmpOptimWrapper`` requires an accelerator."""
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


def _scores_to_float32(module: nn.Module, args, output):
    return output.float() if isinstance(output, torch.Tensor) else output


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward passes run under CPU autocast (bfloat16 by default).

    bfloat16 has float32's exponent range, so no loss scaling is needed. MotionSqueeze computes
    its correlation and soft-argmax in float32 regardless. The classification head's scores are
    returned in float32, because MMAction2's heads compute training accuracy with NumPy, which has
    no bfloat16.

    Args:
        dtype (str or torch.dtype): Autocast dtype, ``'bfloat16'`` or ``'float16'``.
        **kwargs: Passed to ``OptimWrapper``.
    """

    def __init__(self, dtype='bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if self.cast_dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f'CPUAmpOptimWrapper needs bfloat16 or float16, got {dtype}')

    @contextmanager
    def optim_context(self, model: nn.Module):
        head = getattr(getattr(model, 'module', model), 'cls_head', None)
        handle = head.register_forward_hook(_scores_to_float32) if head is not None else None
        try:
            with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
                yield
        finally:
            if handle is not None:
                handle.remove()
