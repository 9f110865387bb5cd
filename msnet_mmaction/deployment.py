"""Exporting a recognizer (clips in, class scores out) with ``torch.export`` or ONNX."""
import torch
import torch.nn as nn


class ScoresModel(nn.Module):
    """A recognizer as a plain module: inputs (N, V * T, 3, H, W), normalised -> scores (N, K).

    Views are averaged as the recognizer's head does at test time.
    """

    def __init__(self, recognizer: nn.Module) -> None:
        super().__init__()
        self.recognizer = recognizer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.recognizer._forward(inputs, stage='head')


def export_recognizer(recognizer: nn.Module, inputs: torch.Tensor, path: str) -> None:
    """Save ``torch.export`` of ``recognizer`` (eval mode) for inputs shaped like ``inputs``."""
    program = torch.export.export(ScoresModel(recognizer.eval()), (inputs, ))
    torch.export.save(program, path)


def export_onnx(recognizer: nn.Module, inputs: torch.Tensor, path: str, opset: int = 18) -> None:
    """Save an ONNX graph of ``recognizer`` (eval mode) through the ``torch.export`` exporter."""
    torch.onnx.export(ScoresModel(recognizer.eval()), (inputs, ), path, dynamo=True,
                      opset_version=opset, input_names=['inputs'], output_names=['scores'])
