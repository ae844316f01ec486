"""Multi-head attention written out (Q, K, V, O, with biases unless bias=False), shared by every attention model: self,
causal self and cross attention, with a mask of the keys a query may see and a key/value cache for
decoding one token at a time.

Parameters: 4 projections of (h·d)² weights + h·d biases = 4(h²d² + hd) for h heads of size d
(4h²d² without biases).
The fused path (`scaled_dot_product_attention`) computes the same function as the explicit
softmax path (Vaswani et al. 2017, eq. 1); a test checks they agree.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel


class MultiHeadAttention(nn.Module):
    def __init__(self, *, dim: int, heads: int, dropout: float = 0.0, causal: bool = False, bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.causal, self.dropout = heads, causal, dropout
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, dim, bias=bias) for _ in range(3))
        self.to_out = nn.Linear(dim, dim, bias=bias)
        self.fused = True  # False: the explicit softmax path (for tests and teaching)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.torch.Tensor | None = None,
        *,
        mask: torch.torch.Tensor | None = None,
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x: (B, T, C) queries. context: (B, S, C) keys and values for cross-attention (default: x).
        mask: bool (B, 1, 1 or T, S), True where a query may see a key; causal masking is added to it.
        cache: this layer's keys and values while decoding step by step (self: appended each call;
        cross: computed once)."""
        B, T, C = x.shape
        if context is None:  # self-attention: Q, K and V from one matrix product (as fast as a fused layer)
            q, k, v = (self._heads(t) for t in self._qkv(x).split(C, dim=-1))  # each (B, H, T, hs)
        else:
            q = self._heads(self.to_q(x))  # (B, H, T, hs)
        if context is not None and cache is not None and "k" in cache:  # cross-attention, later steps
            k, v = cache["k"], cache["v"]
        else:
            if context is not None:
                k, v = self._heads(self.to_k(context)), self._heads(self.to_v(context))  # (B, H, S, hs)
            if cache is not None and context is None and "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            if cache is not None:
                cache["k"], cache["v"] = k, v
        p = self.dropout if self.training else 0.0
        mask, is_causal = self._mask(mask, T, k.shape[2], context is None, q.device)
        if self.fused and not _explicit_is_faster(q):
            y = attend(q, k, v, mask, p, is_causal)
        else:
            y = self._explicit(q, k, v, p, mask, is_causal)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C): heads side by side
        return self.to_out(y)

    def _qkv(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 3C): the three projections as one GEMM. The weights stay three Linear layers, so
        checkpoints, initialisation and parameter names are those of the separate projections."""
        weight = torch.cat([self.to_q.weight, self.to_k.weight, self.to_v.weight])  # (3C, C)
        biases = (self.to_q.bias, self.to_k.bias, self.to_v.bias)
        return F.linear(x, weight, None if biases[0] is None else torch.cat(biases))

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        B, T, C = t.shape
        return t.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, H, T, hs)

    def _mask(
        self, mask: torch.torch.Tensor | None, T: int, S: int, is_self: bool, device: torch.device
    ) -> tuple[torch.torch.Tensor | None, bool]:
        """The boolean mask to apply, and whether the kernel's own causal mask does it instead. With S - T
        cached keys, query t sees keys up to S - T + t."""
        if not (self.causal and is_self) or T == 1:  # one new query sees every cached key
            return mask, False
        if mask is None and S == T:
            return None, True
        causal = torch.ones(T, S, dtype=torch.bool, device=device).tril(S - T)  # (T, S)
        return (causal if mask is None else mask & causal), False

    @staticmethod
    def _explicit(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float, mask: torch.torch.Tensor | None, is_causal: bool
    ) -> torch.Tensor:
        T, S = q.shape[-2], k.shape[-2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, S)
        if is_causal:
            mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril()
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = F.dropout(scores.softmax(dim=-1), p=p, training=p > 0)
        return weights @ v  # (B, H, T, hs)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.torch.Tensor | None, p: float, is_causal: bool
) -> torch.Tensor:
    """The fused attention kernel; under vmap (packed training, trainlab.train.packed) one call of it for every
    member (`MembersFolded`)."""
    if torch._C._functorch.is_batchedtensor(q):  # torch.func has no public test for "inside vmap"
        return MembersFolded.apply(q, k, v, mask, p, is_causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)


class MembersFolded(torch.autograd.Function):
    """Fused attention that vmap batches. vmap has no batching rule for the fused kernels (it loops over the
    members), so packed steps took the math path, whose batched products of tiny matrices are slow on a CPU
    (the quickstart's attention scores: 1,024 products of 8x8 matrices, 0.3 ms each). This rule folds the
    member dimension into the batch dimension and calls the fused kernel once, as a run alone calls it;
    autograd records the kernel's own backward (the packed step's backward is plain autograd, outside vmap)."""

    @staticmethod
    def forward(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.torch.Tensor | None, p: float, is_causal: bool
    ) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)

    @staticmethod
    def setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: torch.Tensor) -> None:
        q, k, v, mask, p, is_causal = inputs
        ctx.save_for_backward(q, k, v, mask)
        ctx.p, ctx.is_causal = p, is_causal

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple:
        """Outside vmap (a direct call on plain tensors): the kernel's backward, by recomputing its forward."""
        q, k, v, mask = ctx.saved_tensors
        with torch.enable_grad():
            inputs = [t.detach().requires_grad_() for t in (q, k, v)]
            out = F.scaled_dot_product_attention(*inputs, attn_mask=mask, dropout_p=ctx.p, is_causal=ctx.is_causal)
        return (*torch.autograd.grad(out, inputs, grad), None, None, None)

    @staticmethod
    def vmap(
        info: Any,
        in_dims: tuple,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
        p: float,
        is_causal: bool,
    ) -> tuple[torch.Tensor, int]:
        members = info.batch_size
        q, k, v, mask = (_with_members(t, d, members) for t, d in zip((q, k, v, mask), in_dims))  # (M, B, ...)
        batch = q.shape[1]
        q, k, v, mask = (_folded(t, batch) for t in (q, k, v, mask))  # (M * B, ...)
        with sdpa_kernel(FUSED):  # packed steps allow only the math path, for models that call the kernel themselves
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)
        return out.view(members, batch, *out.shape[1:]), 0


FUSED = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]  # fused first, math if none fits


def _with_members(t: torch.Tensor | None, dim: int | None, members: int) -> torch.Tensor | None:
    """`t` with the member dimension first (vmap's `dim`, or repeated where vmap did not batch it)."""
    if t is None:
        return None
    return t.expand(members, *t.shape) if dim is None else t.movedim(dim, 0)


def _folded(t: torch.Tensor | None, batch: int) -> torch.Tensor | None:
    """(M, B, ...) as (M * B, ...): the members side by side in the batch dimension. A mask of fewer dimensions
    than the queries' four (one that broadcasts, e.g. (T, S)) is first brought to four, its batch expanded."""
    if t is None:
        return None
    t = t.reshape(t.shape[0], *[1] * (5 - t.dim()), *t.shape[1:])
    t = t.expand(t.shape[0], batch, *t.shape[2:])
    return t.reshape(t.shape[0] * batch, *t.shape[2:])


def _explicit_is_faster(q: torch.Tensor) -> bool:
    """PyTorch's CPU flash-attention kernel is slow in bfloat16 on short sequences. Forward + backward
    of 8 heads of 32 on 2 AVX-512-BF16 cores (8-16k tokens a batch), fused vs explicit: T=50 77 vs 25 ms,
    T=128 188 vs 121 ms, T=256 84 vs 93 ms, T=512 271 vs 503 ms; in float32 fused wins at every length."""
    return q.device.type == "cpu" and q.dtype == torch.bfloat16 and q.shape[-2] <= 128  # q: (B, H, T, hs)
