"""`teacher_attention`: labels given by a random multi-head attention teacher (POSTECH seed, exp. 1).

Inputs are sequences of Gaussian vectors; a randomly initialised teacher (one multi-head self-attention
block with a residual, mean-pooled, then a linear readout) labels each sequence with its argmax class.
A student with the same inductive bias can reach high accuracy, so optimizers differ in speed, not in
whether they can fit the task.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field

from trainlab.data.base import DataBundle, DataConfig, DataInfo, TensorSplit, split_by_permutation
from trainlab.spec.config import HeadsSplitWidth


class TeacherAttentionConfig(HeadsSplitWidth, DataConfig):
    name: str = "teacher_attention"
    n: int = Field(30_000, ge=10)  # train + valid examples
    test_n: int = Field(5_000, ge=0)  # extra examples from the same teacher for the test split
    valid_fraction: float = Field(0.3, gt=0, lt=1)
    seq_len: int = Field(8, ge=1)
    dim: int = Field(16, ge=1)
    heads: int = Field(2, ge=1)
    classes: int = Field(10, ge=2)
    teacher_seed: int = Field(0, ge=0)

    def static_info(self) -> DataInfo | None:
        return DataInfo("classification", (self.seq_len, self.dim), self.classes)


def _teacher_labels(x: torch.Tensor, cfg: TeacherAttentionConfig, g: torch.Generator) -> torch.Tensor:
    B, T, D = x.shape
    H = cfg.heads
    q_w, k_w, v_w, o_w = (torch.randn(D, D, generator=g) / math.sqrt(D) for _ in range(4))
    readout = torch.randn(D, cfg.classes, generator=g) / math.sqrt(D)
    q, k, v = ((x @ w).view(B, T, H, D // H).transpose(1, 2) for w in (q_w, k_w, v_w))  # (B, H, T, hd)
    mixed = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, D)
    pooled = (x + mixed @ o_w).mean(dim=1)  # (B, D)
    return (pooled @ readout).argmax(dim=-1)


def load_teacher_attention(cfg: TeacherAttentionConfig) -> DataBundle:
    g = torch.Generator().manual_seed(cfg.teacher_seed)
    x = torch.randn(cfg.n + cfg.test_n, cfg.seq_len, cfg.dim, generator=g)
    y = _teacher_labels(x, cfg, g)
    train, valid = split_by_permutation(x[: cfg.n], y[: cfg.n], cfg.valid_fraction, cfg.teacher_seed)
    test = TensorSplit(x[cfg.n :], y[cfg.n :]) if cfg.test_n else None
    return DataBundle(cfg.static_info(), train, valid, test)
