"""Exporting a recognizer (clips in, class scores out) with ``torch.export`` or ONNX.

``torch.export`` keeps the correlation and the soft-argmax as the operators
``msnet_mmaction::local_correlation`` and ``msnet_mmaction::kernel_soft_argmax``; a program that
holds them loads where ``msnet_mmaction`` is imported. ONNX has no such operators, so for ONNX the
exported program's operators are first decomposed into their reference formulations, which are
standard PyTorch operations.
"""
import torch
import torch.nn as nn

from .models.scores_model import ScoresModel
from .ops import kernel_soft_argmax_reference, local_correlation_reference


def reference_decompositions() -> dict:
    """``run_decompositions`` table: the default one, plus each operator -> its reference."""
    table = torch.export.default_decompositions()
    table[torch.ops.msnet_mmaction.local_correlation.default] = (
        local_correlation_reference.local_correlation)
    table[torch.ops.msnet_mmaction.kernel_soft_argmax.default] = (
        kernel_soft_argmax_reference.kernel_soft_argmax)
    return table


def export_program(recognizer: nn.Module, inputs: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export`` of ``recognizer`` (eval mode) for inputs shaped like ``inputs``."""
    return torch.export.export(ScoresModel(recognizer.eval()), (inputs, ))


def export_recognizer(recognizer: nn.Module, inputs: torch.Tensor, path: str) -> None:
    """Save :func:`export_program` of ``recognizer`` to ``path`` (``.pt2``)."""
    torch.export.save(export_program(recognizer, inputs), path)


def export_onnx(recognizer: nn.Module, inputs: torch.Tensor, path: str, opset: int = 18) -> None:
    """Save an ONNX graph of standard operators of ``recognizer`` (eval mode)."""
    program = export_program(recognizer, inputs).run_decompositions(reference_decompositions())
    torch.onnx.export(program, f=path, dynamo=True, opset_version=opset,
                      input_names=['inputs'], output_names=['scores'])
