"""What a model is trained to do: the loss, and the exact split-level metrics built from batch sums.

Metrics are accumulated as sums over the whole split (not means of batch means), so a split's
accuracy or perplexity is exact whatever the batch size.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


class Classification:
    """Cross-entropy over classes; accuracy is the main metric (higher is better)."""

    main_metric = "accuracy"
    n_sums = 3
    mode: Literal["max", "min"] = "max"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """[sum of losses, correct, examples] for one batch, computed from the batch-mean loss."""
        n = y.shape[0]
        correct = (out.argmax(dim=-1) == y).sum()
        return torch.stack([loss.detach() * n, correct.to(loss.dtype), torch.tensor(n, dtype=loss.dtype)])

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        loss_sum, correct, n = sums.tolist()
        return {"loss": loss_sum / n, "accuracy": correct / n}


TASKS = {"classification": Classification}


def is_better(task: Classification, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if task.mode == "max" else value < best
