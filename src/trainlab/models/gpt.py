"""`gpt`: a decoder-only Transformer, GPT-1 (post-norm) or GPT-2/nanoGPT (pre-norm).

Token + learned position embeddings, `layers` blocks of causal multi-head attention and a GELU MLP,
output tied to the token embedding (no bias). `norm: post` is GPT-1 (Radford et al. 2018):
x = LN(x + attn(x)); x = LN(x + mlp(x)). `norm: pre` is GPT-2 (Radford et al. 2019): x = x + attn(LN(x)),
x = x + mlp(LN(x)), and a final LayerNorm. A block has 4(C² + C) attention, 2·r·C² + (r + 1)·C MLP and
4C LayerNorm parameters: 7,087,872 for GPT-1 (C = 768, r = 4). `bias: false` (nanoGPT's default) drops
every bias of the linear layers and LayerNorms: 4C² + 2·r·C² + 2C per block. `init: gpt2` (the default,
as nanoGPT) draws weights from N(0, 0.02) and scales the residual output projections by 1/√(2·layers);
`init: gpt1` leaves them at N(0, 0.02), as GPT-1 did.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.models.attention import MultiHeadAttention
from trainlab.models.embeddings import make_embedding
from trainlab.spec.config import HeadsSplitWidth


class GPTConfig(HeadsSplitWidth):
    width_field = "width"

    name: str = "gpt"
    width: int = Field(768, ge=1)
    heads: int = Field(12, ge=1)
    layers: int = Field(1, ge=1)
    mlp_ratio: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    norm: Literal["post", "pre"] = "post"
    bias: bool = True  # biases in linear layers and LayerNorms (GPT-1/2 have them; nanoGPT's default has none)
    init: Literal["gpt2", "gpt1"] = "gpt2"  # gpt2: residual output projections scaled by 1/√(2·layers)
    seq_len: int | None = Field(None, ge=1)  # positions; default: the data's sequence length
    freeze_embeddings: bool = False
    pretrained_embeddings: str | None = None


class Block(nn.Module):
    def __init__(self, *, width: int, heads: int, mlp_ratio: int, dropout: float, pre_norm: bool, bias: bool) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.attn = MultiHeadAttention(dim=width, heads=heads, dropout=dropout, causal=True, bias=bias)
        self.norm1, self.norm2 = nn.LayerNorm(width, bias=bias), nn.LayerNorm(width, bias=bias)
        hidden = mlp_ratio * width
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden, bias=bias), nn.GELU(), nn.Linear(hidden, width, bias=bias), nn.Dropout(dropout)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C)
        if self.pre_norm:
            x = x + self.dropout(self.attn(self.norm1(x)))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.dropout(self.attn(x)))
        return self.norm2(x + self.mlp(x))


class GPT(nn.Module):
    def __init__(self, *, vocab: int, seq_len: int, cfg: GPTConfig) -> None:
        super().__init__()
        C = cfg.width
        freeze, pretrained = cfg.freeze_embeddings, cfg.pretrained_embeddings
        self.tokens = make_embedding(vocab, C, pretrained=pretrained, key="tokens", freeze=freeze, padding_idx=0)
        self.positions = make_embedding(seq_len, C, pretrained=pretrained, key="position", freeze=freeze)
        self.dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            Block(
                width=C,
                heads=cfg.heads,
                mlp_ratio=cfg.mlp_ratio,
                dropout=cfg.dropout,
                pre_norm=cfg.norm == "pre",
                bias=cfg.bias,
            )
            for _ in range(cfg.layers)
        )
        self.final_norm = nn.LayerNorm(C, bias=cfg.bias) if cfg.norm == "pre" else nn.Identity()
        self.to_logits = nn.Linear(C, vocab, bias=False)
        self._init_weights(cfg.layers, keep=pretrained is not None, scale_residuals=cfg.init == "gpt2")
        self.to_logits.weight = self.tokens.weight  # tied output (Press & Wolf 2017)

    def _init_weights(self, layers: int, keep: bool, scale_residuals: bool) -> None:
        """N(0, 0.02) weights, zero biases (GPT-1, Radford et al. 2018, §4.1); with `scale_residuals`, residual
        output projections scaled by 1/√(2·layers) (GPT-2, Radford et al. 2019, §2.3). Pretrained embeddings
        are kept."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding) and not keep:
                nn.init.normal_(module.weight, std=0.02)
                if module.padding_idx is not None:
                    nn.init.zeros_(module.weight[module.padding_idx])
        if not scale_residuals:
            return
        for block in self.blocks:
            for proj in (block.attn.to_out, block.mlp[2]):
                nn.init.normal_(proj.weight, std=0.02 / (2 * layers) ** 0.5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # tokens: (B, T)
        T = tokens.shape[1]
        positions = torch.arange(T, device=tokens.device)
        x = self.dropout(self.tokens(tokens) + self.positions(positions))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.to_logits(self.final_norm(x))  # (B, T, V)


def build_gpt(cfg: GPTConfig, info: DataInfo) -> nn.Module:
    if info.task != "lm":
        raise TrainlabError(f"model.name: gpt is a language model; data {info.task!r} is not token streams")
    seq_len = cfg.seq_len or info.input_shape[0]
    if seq_len < info.input_shape[0]:
        raise TrainlabError(
            f"model.seq_len: {seq_len} positions, but the data's windows are {info.input_shape[0]} long"
        )
    return GPT(vocab=info.num_classes, seq_len=seq_len, cfg=cfg)
