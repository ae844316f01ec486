"""`decoder_only_seq2seq`: translation with one causal Transformer stack over "<s> source <sep> target </s>",
trained with the loss on the target positions only (the CSC413 assignment's decoder-only model).

Sources are left-padded inside the model, so every sequence's target starts at the same column and a
batch decodes in lockstep; positions count from each sequence's first real token, and padded keys are
masked. A target input's leading <s> becomes <sep>.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from trainlab.data.base import DataInfo
from trainlab.data.tokens import PAD, SEP, SOS
from trainlab.models.seq2seq import Seq2SeqModelConfig, positions_needed
from trainlab.models.transformer import DecoderLayer, PositionalEncoding, init_weights


class DecoderOnlySeq2SeqConfig(Seq2SeqModelConfig):
    name: str = "decoder_only_seq2seq"


def left_aligned_prompt(src: torch.Tensor) -> torch.Tensor:
    """(B, S) right-padded source -> (B, S + 1) "<s> source", left-padded."""
    B, S = src.shape
    lengths = (src != PAD).sum(1)  # (B,)
    prompt = torch.cat([src.new_full((B, 1), SOS), src], 1)  # <s> source PAD...
    shift = S - lengths  # move each row right by its padding
    columns = (torch.arange(S + 1, device=src.device) - shift[:, None]) % (S + 1)  # (B, S + 1)
    return prompt.gather(1, columns)


class DecoderOnlySeq2Seq(nn.Module):
    def __init__(self, *, vocab: int, max_len: int, max_target_len: int, cfg: DecoderOnlySeq2SeqConfig) -> None:
        super().__init__()
        C = cfg.dim
        self.scale, self.max_target_len = math.sqrt(C), max_target_len
        self.embed = nn.Embedding(vocab, C, padding_idx=PAD)
        self.positions = PositionalEncoding(cfg.positions, max_len, C)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(
            DecoderLayer(dim=C, heads=cfg.heads, hidden=cfg.hidden, dropout=cfg.dropout, norm=cfg.norm, cross=False)
            for _ in range(cfg.layers)
        )
        self.final_norm = nn.LayerNorm(C) if cfg.norm == "pre" else nn.Identity()
        self.to_logits = nn.Linear(C, vocab, bias=False)
        init_weights(self, C)
        if cfg.tie_output:
            self.to_logits.weight = self.embed.weight

    def _run(
        self, tokens: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, caches: list[dict] | None = None
    ) -> torch.Tensor:
        x = self.dropout(self.embed(tokens) * self.scale + self.positions(positions))  # (B, T, C)
        for i, layer in enumerate(self.layers):
            x = layer(x, self_mask=mask, cache=caches[i] if caches else None)
        return self.to_logits(self.final_norm(x))  # (B, T, V)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """(source (B, S), target input (B, T) starting with <s>) -> logits (B, T, V) of the next tokens."""
        src, tgt = batch
        prompt = left_aligned_prompt(src)  # (B, P)
        seq = torch.cat([prompt, tgt.masked_fill(tgt == SOS, SEP)], 1)  # (B, P + T)
        real = seq != PAD
        positions = (real.cumsum(1) - 1).clamp(min=0)  # (B, P + T)
        L = seq.shape[1]
        itself = torch.eye(L, dtype=torch.bool, device=seq.device)  # a padded query sees itself: no empty softmax
        mask = real[:, None, None, :] | itself  # (B, 1, L, L); causality is added by the attention
        return self._run(seq, positions, mask)[:, prompt.shape[1] :]

    def begin(self, src: torch.Tensor) -> dict:
        """Run the prompt once, filling the caches; the first `step` gets <s> (read as <sep>)."""
        prompt = left_aligned_prompt(src)
        real = prompt != PAD
        positions = (real.cumsum(1) - 1).clamp(min=0)
        itself = torch.eye(prompt.shape[1], dtype=torch.bool, device=src.device)
        caches = [{"self": {}} for _ in self.layers]
        self._run(prompt, positions, real[:, None, None, :] | itself, caches)
        return {"caches": caches, "keys": real, "next": positions[:, -1] + 1}

    def step(self, state: dict, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, 1) -> logits (B, V) of the next token."""
        state["keys"] = torch.cat([state["keys"], torch.ones_like(tokens, dtype=torch.bool)], 1)  # (B, K)
        logits = self._run(
            tokens.masked_fill(tokens == SOS, SEP),
            state["next"][:, None],
            state["keys"][:, None, None, :],
            state["caches"],
        )
        state["next"] = state["next"] + 1
        return logits[:, -1]


def build_decoder_only_seq2seq(cfg: DecoderOnlySeq2SeqConfig, info: DataInfo) -> nn.Module:
    max_src, max_tgt = info.input_shape
    needed = max_src + max_tgt  # <s> source <sep> target: the target count already holds two specials
    return DecoderOnlySeq2Seq(
        vocab=info.num_classes, max_len=positions_needed(cfg, info, needed), max_target_len=max_tgt, cfg=cfg
    )
