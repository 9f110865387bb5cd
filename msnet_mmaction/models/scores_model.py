"""A recognizer as a plain module from clips to class scores, for tracing and export."""
import torch
import torch.nn as nn


class ScoresModel(nn.Module):
    """Normalised inputs (N, V * T, 3, H, W) -> class scores (N, K) of ``recognizer``.

    Views are averaged as the recognizer's head does at test time. The complexity counter traces
    it, and the exporters export it.
    """

    def __init__(self, recognizer: nn.Module) -> None:
        super().__init__()
        self.recognizer = recognizer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.recognizer._forward(inputs, stage='head')
