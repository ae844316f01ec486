"""Decoding translation models: batched greedy search and beam search over a key/value cache.

A decodable model has `begin(src) -> state` (encode the source, empty caches) and `step(state, tokens)
-> logits` (tokens (B, 1) -> (B, V), appending to the caches); every tensor in the state has the batch
first, so beams are reordered by selecting rows. Decoding stops for a sequence at its </s> (later
positions are <pad>) and never goes beyond `max_len` tokens.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from trainlab.data.tokens import EOS, PAD, SOS


class Decodable(Protocol):
    max_target_len: int

    def begin(self, src: torch.Tensor) -> Any: ...

    def step(self, state: Any, tokens: torch.Tensor) -> torch.Tensor: ...


def max_decode_len(model: Decodable, src: torch.Tensor) -> int:
    """2·S + 10 tokens for a source of S (a usual bound for translation), within the model's positions."""
    return min(2 * src.shape[1] + 10, model.max_target_len - 1)


@torch.no_grad()
def greedy(model: Decodable, src: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, S) sources -> (B, L ≤ max_len) tokens, each row ending at its </s> (then <pad>)."""
    state = model.begin(src)
    tokens = src.new_full((src.shape[0], 1), SOS)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len):
        tokens = model.step(state, tokens).argmax(-1, keepdim=True).masked_fill(done[:, None], PAD)  # (B, 1)
        out.append(tokens)
        done |= tokens[:, 0] == EOS
        if done.all():  # one sync per step: stopping early saves far more on short sentences
            break
    return torch.cat(out, 1)


@torch.no_grad()
def greedy_without_cache(model: torch.nn.Module, src: torch.Tensor, max_len: int) -> torch.Tensor:
    """The same search, running the whole decoder on the whole prefix at every step (what course code
    usually does): the reference that `greedy` must equal, and the baseline of benchmarks/decode.py."""
    prefix = src.new_full((src.shape[0], 1), SOS)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        nxt = model((src, prefix))[:, -1].argmax(-1, keepdim=True).masked_fill(done[:, None], PAD)
        prefix = torch.cat([prefix, nxt], 1)
        done |= nxt[:, 0] == EOS
        if done.all():
            break
    return prefix[:, 1:]


def select_rows(state: Any, rows: torch.Tensor) -> Any:
    """The decoding state of the sequences `rows` (tensors have the batch first; other values stay)."""
    if torch.is_tensor(state):
        return state.index_select(0, rows)
    if isinstance(state, dict):
        return {k: select_rows(v, rows) for k, v in state.items()}
    if isinstance(state, list):
        return [select_rows(v, rows) for v in state]
    return state


def length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """((5 + |Y|) / 6)^α (Wu et al. 2016, GNMT, §7); α = 0 ranks beams by log-probability alone."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model: Decodable, src: torch.Tensor, max_len: int, width: int, alpha: float) -> torch.Tensor:
    """The highest-scoring of `width` beams per source, score = log P(Y | X) / length_penalty(|Y|, α);
    a beam is finished at its </s>. Returns (B, L ≤ max_len) like `greedy`."""
    B, K = src.shape[0], width
    state = select_rows(model.begin(src), torch.arange(B, device=src.device).repeat_interleave(K))
    scores = torch.full((B, K), float("-inf"), device=src.device)
    scores[:, 0] = 0.0  # all beams start equal: keep one, or the first step would pick K copies
    tokens = src.new_full((B * K, 1), SOS)
    history = src.new_zeros((B * K, 0))
    done = torch.zeros(B * K, dtype=torch.bool, device=src.device)
    longest = length_penalty(torch.tensor(float(max_len)), alpha)
    for _ in range(max_len):
        logp = model.step(state, tokens).float().log_softmax(-1)  # (B·K, V)
        logp[done] = float("-inf")
        logp[done, PAD] = 0.0  # a finished beam only extends with padding, at no cost
        V = logp.shape[-1]
        candidates = (scores.reshape(-1, 1) + logp).reshape(B, K * V)
        scores, flat = candidates.topk(K, dim=-1)  # (B, K)
        rows = (torch.arange(B, device=src.device)[:, None] * K + flat // V).reshape(-1)
        tokens = (flat % V).reshape(-1, 1)
        history = torch.cat([history.index_select(0, rows), tokens], 1)
        done = done.index_select(0, rows) | (tokens[:, 0] == EOS)
        state = select_rows(state, rows)
        final = _normalised(scores, history, done, alpha)
        # log-probabilities only fall, so an unfinished beam ends at best at score / lp(max_len): stop once
        # every source has a finished beam at least that good
        open_best = torch.where(done.reshape(B, K), float("-inf"), scores / longest).amax(-1)
        if (final.masked_fill(~done.reshape(B, K), float("-inf")).amax(-1) >= open_best).all():
            break
    best = final.argmax(-1)
    return trim(history.reshape(B, K, -1)[torch.arange(B, device=src.device), best])


def _normalised(scores: torch.Tensor, history: torch.Tensor, done: torch.Tensor, alpha: float) -> torch.Tensor:
    """(B, K) scores divided by the length penalty of each beam (its tokens, </s> counted)."""
    lengths = ((history != PAD) & (history != EOS)).sum(1).float() + done.float()
    return scores / length_penalty(lengths, alpha).reshape(scores.shape)


def trim(tokens: torch.Tensor) -> torch.Tensor:
    """Drop the columns at the end where every row is already padding."""
    used = int((tokens != PAD).any(0).nonzero().max()) + 1 if (tokens != PAD).any() else 0
    return tokens[:, :used]


def decode(model: Decodable, src: torch.Tensor, beam: int = 1, alpha: float = 0.0) -> torch.Tensor:
    max_len = max_decode_len(model, src)
    return greedy(model, src, max_len) if beam == 1 else beam_search(model, src, max_len, beam, alpha)
