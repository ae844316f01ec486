"""Transformer layers for translation (Vaswani et al. 2017): positions, the feed-forward sublayer, encoder
and decoder layers (pre- or post-norm), and the masks of padded batches.

Post-norm is the paper's x = LN(x + Dropout(f(x))); pre-norm (Wang et al. 2019; Xiong et al. 2020) is
x = x + Dropout(f(LN(x))) with a final LayerNorm after the stack, and trains without warmup more easily.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from trainlab.data.tokens import PAD
from trainlab.models.attention import MultiHeadAttention

Positions = Literal["sinusoidal", "learned", "none"]
Norm = Literal["post", "pre"]


class PositionalEncoding(nn.Module):
    """Position i -> a vector added to the token embedding: sin/cos at geometric wavelengths
    (Vaswani et al. 2017, §3.5), a learned table, or nothing."""

    def __init__(self, kind: Positions, max_len: int, dim: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Embedding(max_len, dim)
        elif kind == "sinusoidal":
            position = torch.arange(max_len).unsqueeze(1)  # (L, 1)
            rate = torch.exp(torch.arange(0, dim, 2) * (-math.log(10_000.0) / dim))  # (C/2,)
            table = torch.zeros(max_len, dim)
            table[:, 0::2] = torch.sin(position * rate)
            table[:, 1::2] = torch.cos(position * rate[: dim // 2])
            self.register_buffer("table_values", table, persistent=False)  # a function of the shape: not saved

    def forward(self, positions: torch.Tensor) -> torch.Tensor | float:  # positions: (B, T) or (T,)
        if self.kind == "learned":
            return self.table(positions)
        if self.kind == "sinusoidal":
            return self.table_values[positions]
        return 0.0


class Sublayer(nn.Module):
    """A residual around f, with its LayerNorm before f (pre) or after the sum (post)."""

    def __init__(self, dim: int, dropout: float, norm: Norm) -> None:
        super().__init__()
        self.norm, self.dropout, self.pre = nn.LayerNorm(dim), nn.Dropout(dropout), norm == "pre"

    def forward(self, x: torch.Tensor, f) -> torch.Tensor:  # noqa: ANN001 - f: (B, T, C) -> (B, T, C)
        if self.pre:
            return x + self.dropout(f(self.norm(x)))
        return self.norm(x + self.dropout(f(x)))


def feed_forward(dim: int, hidden: int, dropout: float) -> nn.Sequential:
    """FFN(x) = max(0, xW1 + b1)W2 + b2 (Vaswani et al. 2017, eq. 2), dropout on the hidden layer."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dim))


class EncoderLayer(nn.Module):
    def __init__(self, *, dim: int, heads: int, hidden: int, dropout: float, norm: Norm) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(dim=dim, heads=heads, dropout=dropout)
        self.ff = feed_forward(dim, hidden, dropout)
        self.sub_attn, self.sub_ff = Sublayer(dim, dropout, norm), Sublayer(dim, dropout, norm)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # x: (B, S, C); mask: (B, 1, 1, S)
        x = self.sub_attn(x, lambda h: self.self_attn(h, mask=mask))
        return self.sub_ff(x, self.ff)


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention over the encoder's output (when `cross`), feed-forward."""

    def __init__(self, *, dim: int, heads: int, hidden: int, dropout: float, norm: Norm, cross: bool) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(dim=dim, heads=heads, dropout=dropout, causal=True)
        self.cross_attn = MultiHeadAttention(dim=dim, heads=heads, dropout=dropout) if cross else None
        self.ff = feed_forward(dim, hidden, dropout)
        self.sub_self, self.sub_ff = Sublayer(dim, dropout, norm), Sublayer(dim, dropout, norm)
        self.sub_cross = Sublayer(dim, dropout, norm) if cross else None

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        self_mask: torch.Tensor | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        """x: (B, T, C); memory: (B, S, C) with memory_mask (B, 1, 1, S); cache: {"self": {}, "cross": {}}."""
        x = self.sub_self(x, lambda h: self.self_attn(h, mask=self_mask, cache=cache and cache["self"]))
        if self.cross_attn is not None:
            x = self.sub_cross(
                x, lambda h: self.cross_attn(h, memory, mask=memory_mask, cache=cache and cache["cross"])
            )
        return self.sub_ff(x, self.ff)


def key_mask(tokens: torch.Tensor) -> torch.Tensor:
    """(B, S) token ids -> (B, 1, 1, S): True where the key is not padding."""
    return (tokens != PAD)[:, None, None, :]


def init_weights(model: nn.Module, dim: int) -> None:
    """Xavier-uniform matrices (as the Transformer's reference code, tensor2tensor), zero biases, and
    N(0, dim^-1/2) embeddings, which the models scale by √dim (Vaswani et al. 2017, §3.4)."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=dim**-0.5)
            if module.padding_idx is not None:
                nn.init.zeros_(module.weight[module.padding_idx])
