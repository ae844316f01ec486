"""A task of our own: classification trained with label smoothing (Szegedy et al. 2016, §7), scored by
accuracy. trainlab sums `sums` over a split's batches, then `summarize` turns the sums into the split's
metrics, so a split's accuracy is exact however it is batched."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainlab.train.tasks import TaskBase

SMOOTHING = 0.1


class SmoothedClassification(TaskBase):
    main_metric = "accuracy"
    mode = "max"
    n_sums = 3  # loss sum, correct, examples
    throughput = "samples_per_s"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y, label_smoothing=SMOOTHING)

    def units(self, y: torch.Tensor) -> int:
        return y.shape[0]

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        n = y.shape[0]
        correct = (out.argmax(-1) == y).sum().to(loss.dtype)
        return torch.stack([loss.detach() * n, correct, loss.new_full((), n)])

    def summarize(self, sums: torch.Tensor) -> dict[str, float]:
        total, correct, n = sums.tolist()
        return {"loss": total / n, "accuracy": correct / n}
