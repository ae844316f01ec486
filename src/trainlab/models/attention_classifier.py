"""`attention_classifier`: one pre-norm Transformer block over a token sequence, mean-pooled, linear head.

The student for the `teacher_attention` task (POSTECH seed, experiment 1).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.models.attention import MultiHeadAttention
from trainlab.spec.config import HeadsSplitWidth


class AttentionClassifierConfig(HeadsSplitWidth):
    name: str = "attention_classifier"
    dim: int = Field(32, ge=1)
    heads: int = Field(4, ge=1)
    mlp_ratio: int = Field(2, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)


class AttentionClassifier(nn.Module):
    def __init__(self, *, in_dim: int, dim: int, heads: int, mlp_ratio: int, dropout: float, classes: int):
        super().__init__()
        self.to_embedding = nn.Linear(in_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim=dim, heads=heads, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_ratio * dim, dim)
        )
        self.to_logits = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, in_dim)
        h = self.to_embedding(x)  # (B, T, dim)
        h = h + self.attn(self.norm1(h))
        h = h + self.mlp(self.norm2(h))
        return self.to_logits(h.mean(dim=1))  # (B, classes)


def build_attention_classifier(cfg: AttentionClassifierConfig, info: DataInfo) -> nn.Module:
    if len(info.input_shape) != 2:
        raise TrainlabError(
            f"model.name: attention_classifier needs token sequences (T, D); the data gives {info.input_shape}"
        )
    return AttentionClassifier(
        in_dim=info.input_shape[-1],
        dim=cfg.dim,
        heads=cfg.heads,
        mlp_ratio=cfg.mlp_ratio,
        dropout=cfg.dropout,
        classes=info.num_classes,
    )
