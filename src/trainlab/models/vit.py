"""`vit`: the IFT6135 (2022) Vision Transformer (Dosovitskiy et al. 2021).

Patches of `patch × patch` pixels are flattened and projected by a Linear, a learnable cls token is
prepended, learned positional embeddings added (patches + 1), then `layers` blocks of our multi-head
attention and an MLP (embed -> hidden -> embed, GELU, dropout), pre-norm or post-norm, and a head
LayerNorm + Linear on the cls output. Course config (32×32×3, patch 4, embed 256, hidden 512, 8 heads,
10 classes): 1,086,730 parameters at 2 layers, 2,140,938 at 4, 3,195,146 at 6.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.models.attention import MultiHeadAttention
from trainlab.spec.config import HeadsSplitWidth


class ViTConfig(HeadsSplitWidth):
    width_field = "embed_dim"

    name: str = "vit"
    patch: int = Field(4, ge=1)
    embed_dim: int = Field(256, ge=1)
    hidden_dim: int = Field(512, ge=1)
    heads: int = Field(8, ge=1)
    layers: int = Field(2, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    block: Literal["prenorm", "postnorm"] = "prenorm"


class EncoderBlock(nn.Module):
    def __init__(self, *, dim: int, hidden: int, heads: int, dropout: float, pre_norm: bool) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim=dim, heads=heads, dropout=dropout)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D)
        if self.pre_norm:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.mlp(x))


class ViT(nn.Module):
    def __init__(self, *, channels: int, size: tuple[int, int], classes: int, cfg: ViTConfig) -> None:
        super().__init__()
        P, D = cfg.patch, cfg.embed_dim
        self.patch = P
        n_patches = (size[0] // P) * (size[1] // P)
        self.to_patch_embedding = nn.Linear(channels * P * P, D)
        self.cls_token = nn.Parameter(torch.randn(1, 1, D))
        self.pos_embedding = nn.Parameter(torch.randn(1, n_patches + 1, D))
        self.dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.Sequential(
            *(
                EncoderBlock(
                    dim=D, hidden=cfg.hidden_dim, heads=cfg.heads, dropout=cfg.dropout, pre_norm=cfg.block == "prenorm"
                )
                for _ in range(cfg.layers)
            )
        )
        self.to_logits = nn.Sequential(nn.LayerNorm(D), nn.Linear(D, classes))

    def patches(self, img: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, C·P·P), patches in row-major order, one reshape (no unfold copies)."""
        B, C, H, W = img.shape
        P = self.patch
        x = img.reshape(B, C, H // P, P, W // P, P)  # (B, C, h, P, w, P)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(B, (H // P) * (W // P), C * P * P)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.to_patch_embedding(self.patches(img))  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        x = self.dropout(torch.cat([cls, x], dim=1) + self.pos_embedding)  # (B, N + 1, D)
        return self.to_logits(self.blocks(x)[:, 0])  # cls output -> (B, classes)


def build_vit(cfg: ViTConfig, info: DataInfo) -> nn.Module:
    if len(info.input_shape) != 3:
        raise TrainlabError(f"model.name: vit needs images (C, H, W); the data gives {info.input_shape}")
    C, H, W = info.input_shape
    if H % cfg.patch or W % cfg.patch:
        raise TrainlabError(f"model.patch: {cfg.patch} does not divide the {H}×{W} images")
    return ViT(channels=C, size=(H, W), classes=info.num_classes, cfg=cfg)
