"""Chinchilla's parametric scaling law (Hoffmann et al. 2022, approach 3), fitted as Besiroglu et al. 2024
replicated it: L(N, D) = E + A/N^α + B/D^β, written log L̂ = LSE(a - α log N, b - β log D, e) with
A = e^a, B = e^b, E = e^e, minimising Σ Huber_δ(log L - log L̂) with δ = 1e-3 by L-BFGS.

Their procedure starts L-BFGS from 4,500 grid points. Here the objective and its analytic gradient are
vectorised over the runs, the whole grid is scored in one pass, and L-BFGS starts only from the best
few grid points (the optimum is the same; see benchmarks/scaling_fit.py). Intervals come from a
bootstrap over runs, each resample started from the full-data optimum.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

DELTA = 1e-3
# The replication's grid of initial values: a, b, e, α, β (4,500 points).
GRID = np.array(
    list(
        itertools.product(
            np.arange(0, 30, 5),
            np.arange(0, 30, 5),
            np.arange(-1, 1.5, 0.5),
            np.arange(0, 2.5, 0.5),
            np.arange(0, 2.5, 0.5),
        )
    ),
    dtype=float,
)
NAMES = ("E", "A", "B", "alpha", "beta")


@dataclass(frozen=True)
class ParametricFit:
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    objective: float
    converged: bool
    message: str

    def predict(self, n: np.ndarray, d: np.ndarray) -> np.ndarray:
        return self.E + self.A / np.asarray(n, float) ** self.alpha + self.B / np.asarray(d, float) ** self.beta

    @property
    def compute_exponent(self) -> float:
        """a = β / (α + β): N_opt ∝ C^a for compute-optimal models (Hoffmann et al. 2022, eq. 4); NaN when
        neither term depends on its variable (α = β = 0)."""
        total = self.alpha + self.beta
        return self.beta / total if total else float("nan")

    def as_dict(self) -> dict[str, float | bool | str]:
        return asdict(self)


def _terms(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    """(runs, 3) exponents of the three terms: a - α log N, b - β log D, e."""
    a, b, e, alpha, beta = theta
    return np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=1)


def objective(
    theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_loss: np.ndarray
) -> tuple[float, np.ndarray]:
    """Σ Huber(log L - LSE(...)) and its gradient in (a, b, e, α, β)."""
    terms = _terms(theta, log_n, log_d)
    r = log_loss - logsumexp(terms, axis=1)
    small = np.abs(r) <= DELTA
    value = np.where(small, 0.5 * r**2, DELTA * (np.abs(r) - 0.5 * DELTA)).sum()
    w = softmax(terms, axis=1) * -np.clip(r, -DELTA, DELTA)[:, None]  # dHuber/dr · dr/dterm
    grad = np.array([w[:, 0].sum(), w[:, 1].sum(), w[:, 2].sum(), -(w[:, 0] * log_n).sum(), -(w[:, 1] * log_d).sum()])
    return float(value), grad


def grid_values(log_n: np.ndarray, log_d: np.ndarray, log_loss: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """The objective at every grid point at once: (points,)."""
    a, b, e, alpha, beta = (grid[:, i : i + 1] for i in range(5))  # (P, 1) each
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.broadcast_to(e, (len(grid), len(log_n)))], axis=2)
    r = log_loss - logsumexp(terms, axis=2)  # (P, runs)
    return np.where(np.abs(r) <= DELTA, 0.5 * r**2, DELTA * (np.abs(r) - 0.5 * DELTA)).sum(axis=1)


def _minimise(start: np.ndarray, data: tuple[np.ndarray, ...]):  # noqa: ANN202 - scipy's OptimizeResult
    return minimize(
        objective,
        start,
        args=data,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-12},
    )


def fit_parametric(
    n: np.ndarray, d: np.ndarray, loss: np.ndarray, starts: int = 20, extra_start: np.ndarray | None = None
) -> ParametricFit:
    """Fit on runs of N parameters and D tokens reaching `loss`; L-BFGS from the `starts` best grid points
    (and `extra_start`, e.g. a previous optimum). Non-finite or non-positive rows must be removed first."""
    data = (np.log(np.asarray(n, float)), np.log(np.asarray(d, float)), np.log(np.asarray(loss, float)))
    best_grid = GRID[np.argsort(grid_values(*data))[:starts]] if starts else []
    candidates = [*best_grid, *([extra_start] if extra_start is not None else [])]
    results = [_minimise(start, data) for start in candidates]
    best = min(results, key=lambda r: r.fun)
    a, b, e, alpha, beta = best.x
    return ParametricFit(
        float(np.exp(e)),
        float(np.exp(a)),
        float(np.exp(b)),
        float(alpha),
        float(beta),
        float(best.fun),
        bool(best.success),
        str(best.message),
    )


def theta(fit: ParametricFit) -> np.ndarray:
    """The fit as (a, b, e, α, β); a term that underflowed to 0 (E of runs far from their floor) becomes
    the log of the smallest float, so a refit can start from it."""
    a, b, e = np.log(np.maximum([fit.A, fit.B, fit.E], np.finfo(float).tiny))
    return np.array([a, b, e, fit.alpha, fit.beta])


def bootstrap(
    n: np.ndarray,
    d: np.ndarray,
    loss: np.ndarray,
    fit: ParametricFit,
    resamples: int = 1000,
    seed: int = 0,
    starts: int = 0,
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Parameters refitted on `resamples` resamples of the runs (with replacement): name -> values.
    With `groups` (a label per row, e.g. the run an evaluation belongs to), whole groups are resampled,
    since points along one training run are not independent. Each refit starts from the full-data
    optimum (a resample's optimum lies near it), and from the best `starts` grid points if asked."""
    rng = np.random.default_rng(seed)
    n, d, loss = (np.asarray(v, float) for v in (n, d, loss))
    labels = np.arange(len(n)) if groups is None else np.asarray(groups)
    members = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    out: dict[str, list[float]] = {k: [] for k in (*NAMES, "a")}
    for _ in range(resamples):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
        refit = fit_parametric(n[idx], d[idx], loss[idx], starts=starts, extra_start=theta(fit))
        for k in NAMES:
            out[k].append(getattr(refit, k))
        out["a"].append(refit.compute_exponent)
    return {k: np.asarray(v) for k, v in out.items()}


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central percentile interval of bootstrap values."""
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def fit_with_intervals(
    n: np.ndarray, d: np.ndarray, loss: np.ndarray, resamples: int, seed: int = 0, groups: np.ndarray | None = None
) -> tuple[ParametricFit, dict[str, tuple[float, float]]]:
    """The fit and, with `resamples` > 0, the 95 % bootstrap interval of each parameter and of a (the compute
    exponent); `groups` as in `bootstrap`. What `trainlab scaling-fit` and the scaling report both give."""
    fit = fit_parametric(n, d, loss)
    if not resamples:
        return fit, {}
    values = bootstrap(n, d, loss, fit, resamples, seed, groups=groups)
    return fit, {k: interval(values[k]) for k in (*NAMES, "a")}
