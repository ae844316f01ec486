"""The simple gradient noise scale B_simple = tr(Σ) / |G|² (McCandlish et al. 2018, "An Empirical Model of
Large-Batch Training", §2.2 and appendix A), measured during training.

At a measured step the loop has the gradient of the whole batch (B_big units: examples, or target tokens
for language models and translation); the hook also takes the gradient of the batch's first half (B_small)
**at the same weights**, before the optimizer moves them (averaging over consecutive steps, as GPT-NeoX
does, mixes two points of the trajectory). The unbiased estimators of appendix A:

    |G|²   ≈ (B_big |G_big|² - B_small |G_small|²) / (B_big - B_small)
    tr(Σ)  ≈ (|G_small|² - |G_big|²) / (1/B_small - 1/B_big)

are each smoothed by their own exponential moving average before the ratio is taken (the ratio of two
noisy estimates is biased). The extra half-batch pass runs under a forked RNG and the main gradient is put
back, so measuring does not change the run's trajectory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from trainlab.train import seeding
from trainlab.train.loop import Hook, Loop, Row

DECAY = 0.95  # of each moving average, per measurement


@dataclass
class NoiseScale:
    """Moving averages of the two unbiased estimators, with Adam's bias correction (so the first
    measurements are not pulled towards 0)."""

    decay: float = DECAY
    grad_sq: float = 0.0
    trace: float = 0.0
    count: int = 0

    def update(self, small_sq: float, big_sq: float, b_small: float, b_big: float) -> None:
        g2 = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
        tr = (small_sq - big_sq) / (1 / b_small - 1 / b_big)
        self.grad_sq = self.decay * self.grad_sq + (1 - self.decay) * g2
        self.trace = self.decay * self.trace + (1 - self.decay) * tr
        self.count += 1

    def estimates(self) -> dict[str, float]:
        """|G|², tr(Σ) (bias-corrected averages) and their ratio B_simple; empty before a measurement."""
        if not self.count:
            return {}
        correction = 1 - self.decay**self.count
        g2, tr = self.grad_sq / correction, self.trace / correction
        return {"grad_sq": g2, "trace_cov": tr, "noise_scale": tr / g2 if g2 > 0 else float("nan")}


def first_examples(batch: object, n: int) -> object:
    """The first n examples of a batch part: a tensor, or a tuple of them (translation inputs)."""
    return tuple(first_examples(t, n) for t in batch) if isinstance(batch, tuple) else batch[:n]


def _squared_norm(grads: Sequence[torch.Tensor]) -> float:
    return float(sum(g.double().pow(2).sum() for g in grads))


class GradientNoiseScale(Hook):
    """Every `every` steps, before gradient clipping: one extra forward/backward on half the batch.
    Logs noise_scale, grad_sq and trace_cov (units: the task's, examples or tokens) at each evaluation.
    A packed run takes the measurement for all its members at once (trainlab.train.packed), so it packs."""

    def __init__(self, every: int) -> None:
        self.every, self.estimate = every, NoiseScale()

    def due(self, step: int, examples: int) -> bool:
        """Whether the step taken after `step` steps, on a batch of `examples`, is measured (a batch of one
        has no half)."""
        return (step + 1) % self.every == 0 and examples >= 2

    def before_optimizer_step(self, loop: Loop) -> None:
        x, y = loop.batch
        if not self.due(loop.state.step, len(y)):
            return
        params = [p for p in loop.model.parameters() if p.grad is not None]
        big = [p.grad for p in params]
        half = len(y) // 2
        x_small, y_small = first_examples(x, half), first_examples(y, half)
        for p in params:
            p.grad = None
        with seeding.private_global_rng(loop.device), loop.autocast():  # dropout draws leave the run's RNG alone
            loop.task.loss(loop.model(x_small), y_small).backward()
        small = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        self.estimate.update(_squared_norm(small), _squared_norm(big), loop.task.units(y_small), loop.task.units(y))
        for p, g in zip(params, big):
            p.grad = g

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        s = loop.state
        rows.extend(
            Row(s.step, s.epoch, "train", name, value, s.train_seconds)
            for name, value in self.estimate.estimates().items()
        )
