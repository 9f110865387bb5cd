"""Multiply-adds and parameters of a recognizer, counted the way MMAction2's ``get_flops`` does
(MMEngine's jit-traced :class:`~mmengine.analysis.FlopAnalyzer`), plus the correlation op, which
the tracer sees as an opaque Python op and would otherwise count as zero."""
from typing import Any, Dict, List, NamedTuple, Sequence

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape

CORRELATION_OP = 'prim::PythonOp._LocalCorrelation'


def correlation_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``local_correlation``: N * C * H * W per displacement."""
    n, c, h, w = get_shape(inputs[0])
    displacements = get_shape(outputs[0])[1]
    return n * c * h * w * displacements


def motion_squeeze_flops(in_channels: int, num_frames: int, height: int, width: int,
                         reduced_channels: int = 64, max_displacement: int = 7,
                         transform_channels: Sequence[int] = (16, 32, 64),
                         transform_kernels: Sequence[int] = (7, 3, 3, 3),
                         num_maps: int = 3) -> Dict[str, int]:
    """The spec's analytic multiply-adds of one MotionSqueeze module on one clip.

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


class _Head(nn.Module):
    """Recognizer inputs (N, V * T, C, H, W) -> class scores, for tracing."""

    def __init__(self, recognizer: nn.Module) -> None:
        super().__init__()
        self.recognizer = recognizer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.recognizer._forward(inputs, stage='head')


def measure_complexity(recognizer: nn.Module, inputs: torch.Tensor) -> Complexity:
    """Count ``recognizer`` (an MMAction2 2D recognizer, e.g. MSNet) on ``inputs``.

    Args:
        recognizer (nn.Module): Built recognizer; it is put in eval mode.
        inputs (Tensor): Shape (N, T, 3, H, W).
    """
    recognizer.eval()
    analyzer = FlopAnalyzer(_Head(recognizer), (inputs, ))
    analyzer.set_op_handle(CORRELATION_OP, correlation_flop_jit)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    per_module = analyzer.by_module_and_operator()
    # The tracer does not scope the Python op under the module that calls it; in these models
    # only MotionSqueeze calls it.
    motion_flops = analyzer.by_operator().get(CORRELATION_OP.split('::')[1], 0)
    motion_params = 0
    for name, module in recognizer.named_modules():
        if type(module).__name__ == 'MotionSqueeze':
            motion_flops += per_module.get(f'recognizer.{name}', {}).get('conv', 0)
            motion_params += sum(p.numel() for p in module.parameters())
    return Complexity(
        flops=analyzer.total(),
        params=sum(p.numel() for p in recognizer.parameters()),
        motion_flops=motion_flops,
        motion_params=motion_params)
