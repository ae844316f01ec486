"""Multi-head self-attention written out (Q, K, V, O with biases), shared by every attention model.

Parameters: 4 projections of (h·d)² weights + h·d biases = 4(h²d² + hd) for h heads of size d.
The fused path (`scaled_dot_product_attention`) computes the same function as the explicit
softmax path (Vaswani et al. 2017, eq. 1); a test checks they agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, *, dim: int, heads: int, dropout: float = 0.0, causal: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.causal, self.dropout = heads, causal, dropout
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, dim) for _ in range(3))
        self.to_out = nn.Linear(dim, dim)
        self.fused = True  # False: the explicit softmax path (for tests and teaching)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        H = self.heads
        q, k, v = (proj(x).view(B, T, H, C // H).transpose(1, 2) for proj in (self.to_q, self.to_k, self.to_v))
        # (B, H, T, hs) each
        p = self.dropout if self.training else 0.0
        if self.fused and not _explicit_is_faster(q):
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal)
        else:
            y = self._explicit(q, k, v, p)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C): heads side by side
        return self.to_out(y)

    def _explicit(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float) -> torch.Tensor:
        T = q.shape[-2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
        if self.causal:
            future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        weights = F.dropout(scores.softmax(dim=-1), p=p, training=p > 0)
        return weights @ v  # (B, H, T, hs)


def _explicit_is_faster(q: torch.Tensor) -> bool:
    """PyTorch's CPU flash-attention kernel is slow in bfloat16 on short sequences. Forward + backward
    of 8 heads of 32 on 2 AVX-512-BF16 cores (8-16k tokens a batch), fused vs explicit: T=50 77 vs 25 ms,
    T=128 188 vs 121 ms, T=256 84 vs 93 ms, T=512 271 vs 503 ms; in float32 fused wins at every length."""
    return q.device.type == "cpu" and q.dtype == torch.bfloat16 and q.shape[-2] <= 128  # q: (B, H, T, hs)
