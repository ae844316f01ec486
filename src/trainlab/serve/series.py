"""Metric series for the dashboard: read from the store (`Store.series`) once per (study, split, metric), kept
in memory as numpy arrays, and read again only for the runs that changed since (a training run's `updated_at` moves
at every epoch), so a study of 1,000 runs × 2,000 points answers a curve request from memory.

Curves are drawn from them the report's way (shared code): runs grouped by a config key
(trainlab.analysis.sweep.group_names), mean and 95 % band over each group's runs
(trainlab.analysis.curves.seed_band), and every line downsampled for drawing by LTTB.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from trainlab.analysis.curves import band
from trainlab.analysis.downsample import lttb
from trainlab.analysis.sweep import group_names
from trainlab.store import Store
from trainlab.store.series import Series

COLUMNS = ("epoch", "step", "wall_s", "value")
X_COLUMNS = {"epoch": "epoch", "step": "step", "seconds": "wall_s", "seen": "seen", "flops": "flops"}


class SeriesCache:
    """(study, split, name) -> run id -> Series, kept fresh by each run's `updated_at`."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], dict[str, Series]] = {}
        self._stamps: dict[tuple[str, str, str], dict[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, study: str, split: str, name: str, runs: pd.DataFrame) -> dict[str, Series]:
        """The series of the runs in `runs` (columns id, updated_at), reading only those new or changed."""
        key = (study, split, name)
        with self._lock:
            series, stamps = self._series.setdefault(key, {}), self._stamps.setdefault(key, {})
            stale = [rid for rid, at in zip(runs["id"], runs["updated_at"]) if stamps.get(rid) != at]
            fresh = store.series(split, name, stale)
            for rid, at in zip(runs["id"], runs["updated_at"]):
                if rid in fresh or rid in stale:
                    series.pop(rid, None)
                    if rid in fresh:
                        series[rid] = fresh[rid]
                    stamps[rid] = at
            return {rid: series[rid] for rid in runs["id"] if rid in series}


def _x(series: Series, x: str, train: dict[str, dict[str, Series]], rid: str) -> np.ndarray:
    """The x of each round: a column of the series, or the run's cumulative examples/FLOPs at that round."""
    if x in ("seen", "flops"):
        source = train[x].get(rid)
        if source is None or not len(source.epoch):
            return np.full(len(series.epoch), np.nan)
        at = np.searchsorted(source.epoch, series.epoch).clip(0, len(source.epoch) - 1)
        return np.where(source.epoch[at] == series.epoch, source.value[at], np.nan)
    return getattr(series, X_COLUMNS[x])


def lr_drops(lr: Series | None, xs: np.ndarray, epochs: np.ndarray) -> list[float]:
    """x positions of the rounds before the learning rate fell (plateau or step drops)."""
    if lr is None or len(lr.value) < 2:
        return []
    fell = np.flatnonzero(lr.value[1:] < lr.value[:-1] * (1 - 1e-9))
    at = np.searchsorted(epochs, lr.epoch[fell])
    return [float(xs[i]) for i in at if i < len(xs)]


def curves(
    runs: pd.DataFrame,
    series: dict[str, Series],
    x: str,
    group: str | None,
    points: int,
    train: dict[str, dict[str, Series]],
    lr: dict[str, Series],
) -> list[dict[str, Any]]:
    """Traces for the dashboard: with `group`, one per value of that config key (mean of its runs and their
    95 % band, n); without, one per run; each at most `points` points (LTTB), with learning-rate drops."""
    traces = []
    if group:
        names = group_names(runs, [group])
        for value, members in runs.groupby(names, sort=True):
            lines = [_finite(_x(series[r], x, train, r), series[r].value) for r in members["id"] if r in series]
            lines = [(xs, ys) for xs, ys in lines if len(xs)]
            if not lines:
                continue
            xs, mean, low, high, n = band([a for a, _ in lines], [b for _, b in lines])
            keep = lttb(xs, mean, points)
            first = members["id"].iloc[0]
            traces.append(
                {
                    "name": str(value),
                    "n": int(n.max()),
                    "x": _list(xs, keep),
                    "y": _list(mean, keep),
                    "low": _list(low, keep),
                    "high": _list(high, keep),
                    "drops": lr_drops(lr.get(first), _x(series[first], x, train, first), series[first].epoch)
                    if first in series
                    else [],
                }
            )
        return traces
    for r in runs.itertuples():
        s = series.get(r.id)
        if s is None:
            continue
        xs = _x(s, x, train, r.id)
        shown, ys = _finite(xs, s.value)
        keep = lttb(shown, ys, points)
        traces.append(
            {
                "name": f"{r.experiment}: {r.label} (seed {r.seed})",
                "run": r.id,
                "status": r.status,
                "x": _list(shown, keep),
                "y": _list(ys, keep),
                "drops": lr_drops(lr.get(r.id), xs, s.epoch),
            }
        )
    return traces


def _finite(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points whose x is known (a round without its examples or FLOPs recorded has none)."""
    ok = np.isfinite(xs)
    return xs[ok], ys[ok]


def _list(values: Any, keep: np.ndarray) -> list[float | None]:
    """JSON-ready values at the kept indices (NaN as null)."""
    v = np.asarray(values, dtype=float)[keep]
    return [None if not np.isfinite(a) else float(a) for a in v]
