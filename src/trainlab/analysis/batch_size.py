"""The critical batch size from steps and examples to a target (McCandlish et al. 2018, "An Empirical Model
of Large-Batch Training", §2.3; the regimes of Shallue et al. 2018).

Training to a fixed loss with batch size B takes S steps and E = B·S examples, which trade off as
(S/S_min - 1)(E/E_min - 1) = 1, i.e. S(B) = S_min + E_min/B. S_min and E_min are fitted by least squares on
log S over the Pareto frontier (at each batch size, the fewest steps any learning rate needed); the
critical batch size B_crit = E_min/S_min is where doubling B no longer halves the steps. Its interval
comes from a residual bootstrap (the batch sizes are the study's design, so they are kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TradeOff:
    s_min: float
    e_min: float
    converged: bool

    @property
    def b_crit(self) -> float:
        return self.e_min / self.s_min

    def steps(self, batch: np.ndarray | float) -> np.ndarray:
        return self.s_min + self.e_min / np.asarray(batch, float)


def fit_tradeoff(batch: np.ndarray, steps: np.ndarray) -> TradeOff:
    """S_min, E_min minimising Σ (log S - log(S_min + E_min/B))², over log-parameters (so both stay positive)."""
    from scipy.optimize import least_squares

    b, s = np.asarray(batch, float), np.asarray(steps, float)
    b, s = b[np.isfinite(s)], s[np.isfinite(s)]  # settings that never reached the target carry no step count
    residual = lambda p: np.log(s) - np.log(np.exp(p[0]) + np.exp(p[1]) / b)  # noqa: E731
    start = np.log([max(s.min() / 2, 1e-12), max(np.median(b * s) / 2, 1e-12)])
    result = least_squares(residual, start, method="lm" if len(b) > 2 else "trf")
    return TradeOff(float(np.exp(result.x[0])), float(np.exp(result.x[1])), bool(result.success))


def bootstrap_b_crit(batch: np.ndarray, steps: np.ndarray, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """B_crit refitted on `resamples` residual bootstraps: the batch sizes are the study's design, not a
    sample, so each resample keeps them and multiplies the fitted steps by resampled log residuals."""
    rng = np.random.default_rng(seed)
    b, s = np.asarray(batch, float), np.asarray(steps, float)
    b, s = b[np.isfinite(s)], s[np.isfinite(s)]
    fit = fit_tradeoff(b, s)
    fitted = fit.steps(b)
    residuals = np.log(s) - np.log(fitted)
    return np.array([fit_tradeoff(b, fitted * np.exp(rng.choice(residuals, len(b)))).b_crit for _ in range(resamples)])


def frontier(table: pd.DataFrame) -> pd.DataFrame:
    """Per batch size, the row (learning rate) with the fewest steps to the target; rows that never reached it
    are dropped."""
    reached = table[np.isfinite(table["steps"])]
    return reached.loc[reached.groupby("batch")["steps"].idxmin()].sort_values("batch").reset_index(drop=True)
