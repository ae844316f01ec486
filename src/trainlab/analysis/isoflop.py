"""Compute-optimal model size from a ladder of runs: IsoFLOP profiles (Hoffmann et al. 2022, approach 2),
as the CSC413 scaling assignment does them.

1. Each model's validation loss against its cumulative training FLOPs is smoothed by a cubic in
   (log C, log L), fitted by least squares (linear interpolation in log C for models with fewer than six
   evaluations, stated in the notes).
2. At each FLOP budget, every model whose evaluations cover the budget gives its smoothed loss; a quadratic
   in log10 N through them has its minimum at N_opt (no minimum when it opens downwards: stated).
3. log10 N_opt = a·log10 C + k by least squares over the budgets, with the 95 % interval of the line's mean
   at any C (Student t with budgets - 2 degrees of freedom), so the extrapolation to a larger budget comes
   with its interval; D_opt = C / (6 N_opt) (Kaplan et al. 2020's C ≈ 6ND) gives D_opt ∝ C^b.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelCurve:
    """One model of the ladder: its parameters and its (FLOPs, tokens, loss) evaluations."""

    label: str
    params: float
    flops: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray


@dataclass(frozen=True)
class Smooth:
    """A model's smoothed loss over FLOPs, defined on the FLOPs its evaluations cover."""

    curve: ModelCurve
    predict: Callable[[np.ndarray], np.ndarray]
    fitted: bool  # False: linear interpolation in log C

    def covers(self, budget: float) -> bool:
        return float(self.curve.flops.min()) <= budget <= float(self.curve.flops.max())


@dataclass(frozen=True)
class Profile:
    """The IsoFLOP profile at one budget: (N, smoothed loss) of the models covering it, and its minimum."""

    budget: float
    params: np.ndarray
    loss: np.ndarray
    coefficients: np.ndarray | None  # quadratic in log10 N, highest power first; None with fewer than 3 models
    n_opt: float | None  # None when there is no minimum among the models (see `problem`)
    problem: str | None = None  # why there is no minimum


@dataclass(frozen=True)
class Line:
    """log10 y = slope · log10 C + intercept, fitted over the budgets' optima."""

    slope: float
    intercept: float
    slope_se: float
    residual_sd: float
    n: int
    mean_x: float
    sxx: float

    def predict(self, c: float | np.ndarray) -> np.ndarray:
        return 10 ** (self.slope * np.log10(c) + self.intercept)

    def band(self, c: float | np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """The interval of the fitted line's mean at C (10-based), from the t distribution."""
        from scipy.stats import t

        x = np.log10(np.asarray(c, float))
        half = (
            t.ppf(0.5 + level / 2, self.n - 2)
            * self.residual_sd
            * np.sqrt(1 / self.n + (x - self.mean_x) ** 2 / self.sxx)
        )
        centre = self.slope * x + self.intercept
        return 10 ** (centre - half), 10 ** (centre + half)

    def slope_interval(self, level: float = 0.95) -> tuple[float, float]:
        from scipy.stats import t

        half = t.ppf(0.5 + level / 2, self.n - 2) * self.slope_se
        return self.slope - half, self.slope + half


def smooth(curve: ModelCurve, degree: int = 3) -> Smooth:
    """A cubic in (log C, log L) through a model's evaluations by least squares: smooth, and flexible enough
    for the sudden drops of algorithmic tasks, which a saturating power law misses. With fewer than
    degree + 3 evaluations, linear interpolation in log C instead."""
    log_c, log_l = np.log(curve.flops), np.log(curve.loss)
    order = np.argsort(log_c)
    if len(log_c) < degree + 3:
        return Smooth(curve, lambda c: np.interp(np.log(c), log_c[order], curve.loss[order]), fitted=False)
    centre, scale = log_c.mean(), max(float(log_c.std()), 1e-12)  # conditioned powers
    coefficients = np.polyfit((log_c - centre) / scale, log_l, degree)
    return Smooth(curve, lambda c: np.exp(np.polyval(coefficients, (np.log(c) - centre) / scale)), fitted=True)


def profile(models: Sequence[Smooth], budget: float) -> Profile:
    """The profile at `budget`; its minimum only where the quadratic has one inside the models' sizes (a
    vertex beyond the smallest or largest model is an extrapolation, not an optimum)."""
    covering = sorted((m for m in models if m.covers(budget)), key=lambda m: m.curve.params)
    n = np.array([m.curve.params for m in covering], float)
    loss = np.array([float(m.predict(np.array([budget]))[0]) for m in covering])
    if len(covering) < 3:
        return Profile(budget, n, loss, None, None, f"{len(covering)} models reach it; a profile needs 3")
    coefficients = np.polyfit(np.log10(n), loss, 2)
    p2, p1, _ = coefficients
    if p2 <= 0:
        return Profile(budget, n, loss, coefficients, None, "the quadratic in log N opens downwards (no minimum)")
    vertex = float(10 ** (-p1 / (2 * p2)))
    if not n.min() <= vertex <= n.max():
        side = "smallest" if vertex < n.min() else "largest"
        return Profile(
            budget,
            n,
            loss,
            coefficients,
            None,
            f"the loss keeps falling toward the {side} model (the quadratic's minimum, N = {vertex:,.0f}, "
            "lies outside the ladder)",
        )
    return Profile(budget, n, loss, coefficients, vertex)


def fit_line(c: np.ndarray, y: np.ndarray) -> Line:
    """log10 y against log10 C by least squares (needs 3 points for an interval)."""
    x, z = np.log10(np.asarray(c, float)), np.log10(np.asarray(y, float))
    slope, intercept = np.polyfit(x, z, 1)
    residuals = z - (slope * x + intercept)
    sxx = float(((x - x.mean()) ** 2).sum())
    sd = math.sqrt(float((residuals**2).sum()) / (len(x) - 2)) if len(x) > 2 else math.nan
    return Line(
        float(slope), float(intercept), sd / math.sqrt(sxx) if sxx else math.nan, sd, len(x), float(x.mean()), sxx
    )
