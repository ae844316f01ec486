"""Learning curves from long-format metrics: seed aggregation and time-to-target."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainlab.analysis.stats import mean_ci


def curve(metrics: pd.DataFrame, run_id: str, split: str, name: str, x: str = "epoch") -> pd.Series:
    """One run's metric as a Series indexed by `x` (epoch, or cumulative training seconds wall_s)."""
    rows = metrics[(metrics["run_id"] == run_id) & (metrics["split"] == split) & (metrics["name"] == name)]
    return rows.drop_duplicates("epoch", keep="last").set_index(x)["value"].sort_index()


def seed_band(curves: list[pd.Series], level: float = 0.95) -> pd.DataFrame:
    """Mean and CI per x over seeds (x values aligned by position, e.g. epochs 1..E).

    Wall-clock x differs per seed, so its x is the mean x at each position.
    """
    length = min(len(c) for c in curves)
    xs = np.mean([c.index.to_numpy()[:length] for c in curves], axis=0)
    stats = [mean_ci([c.iloc[i] for c in curves], level) for i in range(length)]
    return pd.DataFrame(
        {
            "x": xs,
            "mean": [s.mean for s in stats],
            "low": [s.low for s in stats],
            "high": [s.high for s in stats],
            "n": [s.n for s in stats],
        }
    )


def first_reaching(series: pd.Series, target: float, mode: str) -> float:
    """The first x at which the curve reaches `target` (>= for max, <= for min); NaN if never."""
    hit = series[series >= target] if mode == "max" else series[series <= target]
    return float(hit.index[0]) if len(hit) else math.nan


def within_target(best: float, mode: str, tolerance: float = 0.05) -> float:
    """The value that counts as 'within 5 % of the best': 0.95·best when higher is better, 1.05·best otherwise."""
    return best * (1 - tolerance) if mode == "max" else best * (1 + tolerance)


def overfitting_epoch(train_loss: pd.Series, valid_loss: pd.Series, rises: int = 2) -> int | None:
    """The epoch of the valid-loss minimum when, after it, valid loss rises for at least `rises`
    consecutive epochs while train loss keeps falling over those epochs; None otherwise."""
    valid = valid_loss.sort_index()
    train = train_loss.reindex(valid.index)
    epochs = list(valid.index)
    best = int(valid.idxmin())
    i = epochs.index(best)
    streak = 0
    for a, b in zip(epochs[i:], epochs[i + 1 :]):
        if valid[b] > valid[a] and train[b] < train[a]:
            streak += 1
            if streak >= rises:
                return best
        else:
            streak = 0
    return None
