"""`lstm_lm`: the IFT6135 (2021/2022) LSTM language model.

Embedding(V, E, padding 0) -> LSTM(E -> H, L layers) -> Linear(H, E) -> ReLU -> Linear(E, V, no bias),
the last layer tied to the embedding (Press & Wolf 2017). With frozen tied embeddings the learnable
parameters are the LSTM's 4(H·E + H² + 2H) for the first layer, 4(2H² + 2H) per further layer, and
the H·E + E of the projection: 3,019,520 at E = 768, H = 512, one layer.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.hardware import cpu_has_native_bf16
from trainlab.models.embeddings import make_embedding
from trainlab.spec.config import Named


class LSTMLMConfig(Named):
    name: str = "lstm_lm"
    embed_dim: int = Field(768, ge=1)
    hidden_dim: int = Field(512, ge=1)
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    tie_weights: bool = True
    freeze_embeddings: bool = False
    pretrained_embeddings: str | None = None


class LSTMLM(nn.Module):
    unpackable = "nn.LSTM has no vmap batching rule"  # why it trains alone under --pack (trainlab.train.packed)

    def __init__(self, *, vocab: int, cfg: LSTMLMConfig) -> None:
        super().__init__()
        E, H = cfg.embed_dim, cfg.hidden_dim
        self.embedding = make_embedding(
            vocab, E, pretrained=cfg.pretrained_embeddings, key="tokens", freeze=cfg.freeze_embeddings, padding_idx=0
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(E, H, num_layers=cfg.layers, batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0)
        self.to_embedding = nn.Sequential(nn.Linear(H, E), nn.ReLU())
        self.to_logits = nn.Linear(E, vocab, bias=False)
        if cfg.tie_weights:
            self.to_logits.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # tokens: (B, T)
        h = self._recur(self.dropout(self.embedding(tokens)))  # (B, T, H); zero initial state per batch
        return self.to_logits(self.to_embedding(self.dropout(h)))  # (B, T, V)

    def _recur(self, x: torch.Tensor) -> torch.Tensor:
        # oneDNN has no bf16 LSTM primitive on CPUs without native bf16 (AVX2 only): under bf16 autocast
        # there the recurrence runs in float32, which is also faster than emulated bf16.
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and not cpu_has_native_bf16():
            with torch.autocast("cpu", enabled=False):
                return self.lstm(x.float())[0]
        return self.lstm(x)[0]


def build_lstm_lm(cfg: LSTMLMConfig, info: DataInfo) -> nn.Module:
    if info.task != "lm":
        raise TrainlabError(f"model.name: lstm_lm is a language model; data {info.task!r} is not token streams")
    return LSTMLM(vocab=info.num_classes, cfg=cfg)
