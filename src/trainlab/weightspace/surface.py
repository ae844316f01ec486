"""Evaluate a model along lines and over planes of weight space, restoring its weights exactly after.

The model's tensors are moved in place (w0 + a·d1 + b·d2), so no model is copied per point.
Metrics come from `evaluate(model) -> dict[str, float]`; `batch_metrics` builds one for classifiers and
language models from any iterable of (inputs, targets) batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.weightspace.directions import Direction, Mode, weights
from trainlab.weightspace.linear_cache import linear_cache

Evaluate = Callable[[nn.Module], dict[str, float]]


def batch_metrics(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    ignore_index: int = -100,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> Evaluate:
    """Loss (mean over targets), accuracy and perplexity = exp(loss) over a fixed list of batches.

    Outputs (…, C) with integer targets (…) are read as class scores; `ignore_index` targets (e.g.
    padding) are left out. With a custom `loss_fn`, only its batch-size-weighted mean is reported.
    """
    data = list(batches)

    @torch.no_grad()
    def evaluate(model: nn.Module) -> dict[str, float]:
        total, correct, count = 0.0, 0, 0
        for x, y in data:
            out = model(x)
            if loss_fn is not None:
                n = len(y)
                total += float(loss_fn(out, y)) * n
                count += n
                continue
            flat_out, flat_y = out.reshape(-1, out.shape[-1]), y.reshape(-1)
            keep = flat_y != ignore_index
            total += float(F.cross_entropy(flat_out, flat_y, ignore_index=ignore_index, reduction="sum"))
            correct += int((flat_out.argmax(-1) == flat_y)[keep].sum())
            count += int(keep.sum())
        loss = total / count
        if loss_fn is not None:
            return {"loss": loss}
        return {"loss": loss, "accuracy": correct / count, "perplexity": math.exp(min(loss, 700.0))}

    return evaluate


@contextmanager
def moved(model: nn.Module, mode: Mode = "weights"):  # noqa: ANN201 - yields a setter
    """Yield set(coefficients, directions): puts the model at w0 + Σ c_i d_i. The original tensors are
    restored bit for bit on exit, whatever happens inside."""
    targets = (
        dict(model.named_parameters())
        if mode == "weights"
        else {n: t for n, t in model.state_dict(keep_vars=True).items() if t.is_floating_point()}
    )
    origin = weights(model, mode)
    was_training = model.training
    model.eval()

    @torch.no_grad()
    def set_point(
        coefficients: Sequence[float], directions: Sequence[Direction], base: dict[str, torch.Tensor] | None = None
    ) -> None:
        for name, t in targets.items():
            t.copy_((base or origin)[name])
            for c, d in zip(coefficients, directions):
                if c:
                    t.add_(d[name], alpha=c)

    try:
        yield set_point
    finally:
        with torch.no_grad():
            for name, t in targets.items():
                t.copy_(origin[name])
        model.train(was_training)


@dataclass
class Surface:
    """Metric values on a grid: values[name] has shape (len(ys), len(xs)) (1D: (len(xs),))."""

    xs: np.ndarray
    ys: np.ndarray | None
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def done(self) -> np.ndarray:
        """Points already computed (an interrupted grid continues from the others)."""
        first = next(iter(self.values.values()), None)
        return np.zeros(self._shape, bool) if first is None else ~np.isnan(first)

    @property
    def _shape(self) -> tuple[int, ...]:
        return (len(self.xs),) if self.ys is None else (len(self.ys), len(self.xs))


def surface(
    model: nn.Module,
    evaluate: Evaluate,
    directions: Sequence[Direction],
    xs: Sequence[float],
    ys: Sequence[float] | None = None,
    *,
    mode: Mode = "weights",
    resume: Surface | None = None,
    on_row: Callable[[Surface], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Surface:
    """Metrics at w0 + x·d1 (one direction) or w0 + x·d1 + y·d2 (two), for every grid point.

    `resume` gives values already computed (NaN = to do); `on_row` is called after each row (to save).
    """
    out = resume or Surface(np.asarray(xs, float), None if ys is None else np.asarray(ys, float))
    rows = [None] if out.ys is None else list(range(len(out.ys)))
    total, count = out.done().size, int(out.done().sum())
    cache = linear_cache(model, directions) if mode == "weights" else nullcontext(None)
    with moved(model, mode) as set_point, cache as first_layer:
        for r in rows:
            for c, x in enumerate(out.xs):
                index = (c,) if r is None else (r, c)
                if out.values and not np.isnan(next(iter(out.values.values()))[index]):
                    continue
                coefficients = [x] if r is None else [x, out.ys[r]]
                set_point(coefficients, directions)
                if first_layer is not None:
                    first_layer.coefficients = coefficients
                for name, value in evaluate(model).items():
                    out.values.setdefault(name, np.full(out._shape, np.nan))[index] = value
                count += 1
                if progress:
                    progress(count, total)
            if on_row:
                on_row(out)
    return out


def interpolate(
    model: nn.Module,
    evaluate: Evaluate,
    start: dict[str, torch.Tensor],
    end: dict[str, torch.Tensor],
    alphas: Sequence[float],
    *,
    mode: Mode = "weights",
) -> Surface:
    """Metrics along start + α·(end - start) (Goodfellow et al. 2015); at α = 0 and α = 1 the model holds
    exactly `start` and `end`, so the endpoints are the two models' own metrics."""
    names = list(weights(model, mode))
    start = {n: start[n] for n in names}
    end = {n: end[n] for n in names}
    direction = {n: end[n] - start[n] for n in names}
    xs = np.asarray(alphas, float)
    out = Surface(xs, None)
    with moved(model, mode) as set_point:
        for i, a in enumerate(xs):
            if a == 1.0:
                set_point([], [], base=end)
            else:
                set_point([float(a)], [direction], base=start)
            for name, value in evaluate(model).items():
                out.values.setdefault(name, np.full(len(xs), np.nan))[i] = value
    return out
