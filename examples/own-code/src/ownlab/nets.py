"""RingMLP: an MLP with residual hidden blocks. trainlab reads its options (width, depth, activation) from the
signature's type hints and defaults, and passes `info` (input shape, number of classes) from the dataset."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from trainlab.data import DataInfo


class Block(nn.Module):
    def __init__(self, width: int, activation: nn.Module) -> None:
        super().__init__()
        self.linear, self.activation = nn.Linear(width, width), activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.activation(self.linear(x))


class RingMLP(nn.Module):
    def __init__(
        self, info: DataInfo, width: int = 32, depth: int = 2, activation: Literal["relu", "tanh"] = "relu"
    ) -> None:
        super().__init__()
        act = nn.ReLU() if activation == "relu" else nn.Tanh()
        self.stem = nn.Linear(info.input_shape[0], width)
        self.blocks = nn.Sequential(*[Block(width, act) for _ in range(depth)])
        self.head = nn.Linear(width, info.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))
