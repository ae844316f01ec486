"""What a model is trained to do: the loss, and exact split-level metrics built from batch sums.

Metrics are accumulated as sums over the whole split (not means of batch means), so a split's
accuracy or perplexity is exact whatever the batch size.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from trainlab.data.base import DataInfo
from trainlab.data.text import PAD


class _Task:
    """What every task shares: the data it reads, and the count behind its sums (last entry)."""

    def __init__(self, info: DataInfo) -> None:
        self.info = info

    def count(self, sums: torch.Tensor) -> float:
        """Examples (or target tokens) behind the sums, for throughput."""
        return float(sums[-1])


class Classification(_Task):
    """Cross-entropy over classes; accuracy is the main metric (higher is better)."""

    main_metric = "accuracy"
    mode: Literal["max", "min"] = "max"
    n_sums = 3
    throughput = "samples_per_s"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def units(self, y: torch.Tensor) -> int:
        """What throughput and FLOPs are counted per: examples."""
        return y.shape[0]

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """[sum of losses, correct, examples] for one batch, computed from the batch-mean loss."""
        n = y.shape[0]
        correct = (out.argmax(dim=-1) == y).sum()
        return torch.stack([loss.detach() * n, correct.to(loss.dtype), loss.new_full((), n)])  # new_full: no host-to-GPU copy

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        loss_sum, correct, n = sums.tolist()
        return {"loss": loss_sum / n, "accuracy": correct / n}


class LanguageModeling(_Task):
    """Next-token cross-entropy over non-padding targets; perplexity is the main metric (lower is better).

    Perplexity = exp(total NLL / number of target tokens) over the whole split; bits per character =
    NLL / ln 2 per character for character-level data.
    """

    main_metric = "perplexity"
    mode: Literal["max", "min"] = "min"
    n_sums = 2
    throughput = "tokens_per_s"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=PAD)

    def units(self, y: torch.Tensor) -> int:
        """What throughput and FLOPs are counted per: target tokens (padding excluded)."""
        return int((y != PAD).sum())

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        tokens = (y != PAD).sum().to(loss.dtype)
        return torch.stack([loss.detach() * tokens, tokens])

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        nll, tokens = sums.tolist()
        loss = nll / tokens
        out = {"loss": loss, "perplexity": math.exp(min(loss, 700.0))}  # exp overflows past ~709
        if self.info.char_level:
            out["bpc"] = loss / math.log(2)
        return out


Task = Classification | LanguageModeling
TASKS: dict[str, type[Classification] | type[LanguageModeling]] = {
    "classification": Classification,
    "lm": LanguageModeling,
}


def is_better(task: Task, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if task.mode == "max" else value < best
