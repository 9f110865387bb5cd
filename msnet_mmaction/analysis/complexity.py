"""Multiply-adds and parameters of a recognizer, counted the way MMAction2's ``get_flops`` does
(MMEngine's jit-traced :class:`~mmengine.analysis.FlopAnalyzer`).

The traced graph holds the correlation as the operator ``msnet_mmaction::local_correlation``;
:func:`measure_complexity` gives the analyzer its handle. :func:`register_flop_counts`, run when
``msnet_mmaction`` is imported, registers its count with :mod:`torch.utils.flop_counter`; for
MMAction2's own ``tools/analysis_tools/get_flops.py`` a config imports
:mod:`.mmengine_flop_table`. The soft-argmax is elementwise work and a reduction, which MMEngine's
counter leaves out as it leaves out BN's and ReLU's.
"""
from typing import Any, Dict, List, NamedTuple, Sequence

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from torch.utils.flop_counter import flop_registry, register_flop_formula

from ..models.scores_model import ScoresModel

CORRELATION_OP = 'msnet_mmaction::local_correlation'


def correlation_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``local_correlation``: N * C * H * W per displacement."""
    n, c, h, w = get_shape(inputs[0])
    displacements = get_shape(outputs[0])[1]
    return n * c * h * w * displacements


def register_flop_counts() -> None:
    """Count the correlation operator in ``torch.utils.flop_counter.FlopCounterMode``."""
    if torch.ops.msnet_mmaction.local_correlation.default not in flop_registry:
        register_flop_formula(torch.ops.msnet_mmaction.local_correlation)(_correlation_flops)


def _correlation_flops(a_shape, b_shape, max_displacement: int, dilation: int, *args,
                       out_shape=None, **kwargs) -> int:
    """FLOPs (two per multiply-add, as ``FlopCounterMode`` counts) of the correlation."""
    n, c, h, w = a_shape
    return 2 * n * c * h * w * (2 * max_displacement + 1)**2


def motion_squeeze_flops(in_channels: int, num_frames: int, height: int, width: int,
                         reduced_channels: int = 64, max_displacement: int = 7,
                         transform_channels: Sequence[int] = (16, 32, 64),
                         transform_kernels: Sequence[int] = (7, 3, 3, 3),
                         num_maps: int = 3) -> Dict[str, int]:
    """The analytic multiply-adds of one MotionSqueeze module on one clip: the 1x1 reduction,
    the correlation over ``T - 1`` frame pairs, and the separable convolutions.

    Args:
        in_channels (int): ``C`` of the stage it follows.
        num_frames (int): ``T``; the correlation runs on ``T - 1`` pairs.
        height, width (int): Size of the feature map.
        num_maps (int): Maps fed to the transformation (u, v, confidence). Defaults to 3.

    Returns:
        dict: ``reduction`` (1x1 conv), ``correlation`` and ``transform`` (separable convs).
    """
    positions = height * width
    patch = (2 * max_displacement + 1)**2
    widths = [num_maps, *transform_channels, in_channels]
    transform = sum(k * k * c_in + c_in * c_out
                    for c_in, c_out, k in zip(widths[:-1], widths[1:], transform_kernels))
    return dict(
        reduction=num_frames * positions * in_channels * reduced_channels,
        correlation=(num_frames - 1) * positions * patch * reduced_channels,
        transform=num_frames * positions * transform)


class Complexity(NamedTuple):
    """Counts for one model and input. ``motion_*`` cover the MotionSqueeze modules: their
    convolutions and correlation (norms excluded, as in the analytic count)."""
    flops: int
    params: int
    motion_flops: int
    motion_params: int


def measure_complexity(recognizer: nn.Module, inputs: torch.Tensor) -> Complexity:
    """Count ``recognizer`` (an MMAction2 2D recognizer, e.g. MSNet) on ``inputs``.

    Args:
        recognizer (nn.Module): Built recognizer; it is put in eval mode.
        inputs (Tensor): Shape (N, T, 3, H, W).
    """
    from ..models import MotionSqueeze
    recognizer.eval()
    analyzer = FlopAnalyzer(ScoresModel(recognizer), (inputs, ))
    analyzer.set_op_handle(CORRELATION_OP, correlation_flop_jit)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    per_module = analyzer.by_module_and_operator()
    motion_flops = motion_params = 0
    for name, module in recognizer.named_modules():
        if isinstance(module, MotionSqueeze):
            counts = per_module.get(f'recognizer.{name}', {})
            motion_flops += counts.get('conv', 0) + counts.get(CORRELATION_OP.split('::')[1], 0)
            motion_params += sum(p.numel() for p in module.parameters())
    return Complexity(
        flops=analyzer.total(),
        params=sum(p.numel() for p in recognizer.parameters()),
        motion_flops=motion_flops,
        motion_params=motion_params)
