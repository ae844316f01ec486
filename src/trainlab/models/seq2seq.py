"""`transformer_seq2seq`: the encoder-decoder Transformer of "Attention Is All You Need" (Vaswani et al.
2017) for translation: embeddings scaled by √C plus positions, `layers` encoder layers (self-attention,
feed-forward) and `layers` decoder layers (causal self-attention, cross-attention, feed-forward),
logits from the decoder, optionally tied to the target embedding (Press & Wolf 2017, as §3.4 does).

The base model is dim 512, heads 8, hidden 2048, 6 layers, dropout 0.1, post-norm, sinusoidal positions.
For decoding, `begin` encodes the source once and `step` runs the decoder on one new token per sequence
against cached keys and values (trainlab.train.decoding).
"""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.data.tokens import PAD
from trainlab.errors import TrainlabError
from trainlab.models.transformer import (
    DecoderLayer,
    EncoderLayer,
    Norm,
    PositionalEncoding,
    Positions,
    init_weights,
    key_mask,
)
from trainlab.spec.config import HeadsSplitWidth


class Seq2SeqModelConfig(HeadsSplitWidth):
    """What both translation models share."""

    dim: int = Field(512, ge=2)
    heads: int = Field(8, ge=1)
    hidden: int = Field(2048, ge=1)  # feed-forward width
    layers: int = Field(6, ge=1)  # per stack
    dropout: float = Field(0.1, ge=0, lt=1)
    norm: Norm = "post"
    positions: Positions = "sinusoidal"
    max_positions: int | None = Field(None, ge=2)  # default: the data's longest sentence
    tie_output: bool = True  # output projection = target embedding


class TransformerSeq2SeqConfig(Seq2SeqModelConfig):
    name: str = "transformer_seq2seq"
    share_embeddings: bool = True  # one table for source and target (the vocabulary is shared)


def positions_needed(cfg: Seq2SeqModelConfig, info: DataInfo, needed: int) -> int:
    """Positions the model is built with: `max_positions`, or what the data needs; too few is an error."""
    if info.task != "seq2seq":
        raise TrainlabError(f"model.name: {cfg.name} translates; data {info.task!r} is not sentence pairs")
    if cfg.max_positions is not None and cfg.max_positions < needed and cfg.positions == "learned":
        raise TrainlabError(
            f"model.max_positions: {cfg.max_positions} learned positions, but the data has sequences "
            f"of {needed} tokens; raise it, or cut sentences with data.max_len"
        )
    return max(cfg.max_positions or 0, needed)


class TransformerSeq2Seq(nn.Module):
    def __init__(self, *, vocab: int, max_len: int, cfg: TransformerSeq2SeqConfig) -> None:
        super().__init__()
        C = cfg.dim
        self.scale, self.max_target_len = math.sqrt(C), max_len
        self.src_embed = nn.Embedding(vocab, C, padding_idx=PAD)
        self.tgt_embed = self.src_embed if cfg.share_embeddings else nn.Embedding(vocab, C, padding_idx=PAD)
        self.positions = PositionalEncoding(cfg.positions, max_len, C)
        self.dropout = nn.Dropout(cfg.dropout)
        layer = {"dim": C, "heads": cfg.heads, "hidden": cfg.hidden, "dropout": cfg.dropout, "norm": cfg.norm}
        self.encoder = nn.ModuleList(EncoderLayer(**layer) for _ in range(cfg.layers))
        self.decoder = nn.ModuleList(DecoderLayer(**layer, cross=True) for _ in range(cfg.layers))
        self.encoder_norm = nn.LayerNorm(C) if cfg.norm == "pre" else nn.Identity()
        self.decoder_norm = nn.LayerNorm(C) if cfg.norm == "pre" else nn.Identity()
        self.to_logits = nn.Linear(C, vocab, bias=False)
        init_weights(self, C)
        if cfg.tie_output:
            self.to_logits.weight = self.tgt_embed.weight

    def _embed(self, table: nn.Embedding, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.dropout(table(tokens) * self.scale + self.positions(positions))  # (B, T, C)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src: (B, S) -> memory (B, S, C) and its key mask (B, 1, 1, S)."""
        mask = key_mask(src)
        x = self._embed(self.src_embed, src, torch.arange(src.shape[1], device=src.device))
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x), mask

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """(source (B, S), target input (B, T) starting with <s>) -> logits (B, T, V) of the next tokens."""
        src, tgt = batch
        memory, memory_mask = self.encode(src)
        x = self._embed(self.tgt_embed, tgt, torch.arange(tgt.shape[1], device=tgt.device))
        for layer in self.decoder:  # causal self-attention; padded target positions are never read by real ones
            x = layer(x, memory, memory_mask)
        return self.to_logits(self.decoder_norm(x))

    def begin(self, src: torch.Tensor) -> dict:
        """Decoding state: the encoded source, empty caches, the next position."""
        memory, memory_mask = self.encode(src)
        caches = [{"self": {}, "cross": {}} for _ in self.decoder]
        return {"memory": memory, "memory_mask": memory_mask, "caches": caches, "t": 0}

    def step(self, state: dict, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, 1): the latest token of each sequence -> logits (B, V) of the next one."""
        x = self._embed(self.tgt_embed, tokens, torch.tensor([state["t"]], device=tokens.device))
        for layer, cache in zip(self.decoder, state["caches"]):
            x = layer(x, state["memory"], state["memory_mask"], cache=cache)
        state["t"] += 1
        return self.to_logits(self.decoder_norm(x))[:, -1]


def build_transformer_seq2seq(cfg: TransformerSeq2SeqConfig, info: DataInfo) -> nn.Module:
    max_src, max_tgt = info.input_shape
    return TransformerSeq2Seq(
        vocab=info.num_classes, max_len=positions_needed(cfg, info, max(max_src, max_tgt)), cfg=cfg
    )
