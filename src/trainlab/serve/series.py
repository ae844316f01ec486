"""Metric series for the dashboard: read from the store (`Store.series`) once per (study, split, metric), kept
in memory as numpy arrays, and read again only for the runs that changed since (a training run's `updated_at` moves
at every epoch), so a study of 1,000 runs × 2,000 points answers a curve request from memory.

Curves are drawn from them the report's way (shared code): a line per configuration with its seeds' mean and
95 % band (trainlab.analysis.curves.band), or per group of config keys (trainlab.analysis.sweep.group_names):
its best setting, or all its runs; every line downsampled for drawing by LTTB.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainlab.analysis.curves import band
from trainlab.analysis.downsample import lttb
from trainlab.analysis.sweep import group_names
from trainlab.phases import phase
from trainlab.store import Store
from trainlab.store.series import Series

COLUMNS = ("epoch", "step", "wall_s", "value")
X_COLUMNS = {"epoch": "epoch", "step": "step", "seconds": "wall_s", "seen": "seen", "flops": "flops"}


DISPLAY = 1000  # rounds a cached series keeps at most: the study's longest run sets one stride for all


def display_stride(runs: pd.DataFrame) -> int:
    """Every how many rounds the cache keeps one, so that the longest run keeps at most DISPLAY."""
    longest = int(runs["epochs_done"].max()) if len(runs) else 0
    return max(1, -(-longest // DISPLAY))


class SeriesCache:
    """(study, split, name, stride) -> run id -> Series (every stride-th round), kept fresh by each run's
    `updated_at`. What it holds is for display: at most DISPLAY rounds a run, whatever the run's length; a
    zoomed view reads its range from the store at full resolution instead."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str, int], dict[str, Series]] = {}
        self._stamps: dict[tuple[str, str, str, int], dict[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, study: str, split: str, name: str, runs: pd.DataFrame) -> dict[str, Series]:
        """The series of the runs in `runs` (columns id, updated_at, epochs_done), reading only those new or
        changed."""
        stride = display_stride(runs)
        key = (study, split, name, stride)
        with self._lock:
            for old in [k for k in self._series if k[:3] == key[:3] and k != key]:  # the stride moved on
                del self._series[old], self._stamps[old]
            series, stamps = self._series.setdefault(key, {}), self._stamps.setdefault(key, {})
            stale = [rid for rid, at in zip(runs["id"], runs["updated_at"]) if stamps.get(rid) != at]
            first = phase(f"dashboard: first read of {split}/{name} for {len(stale)} runs of {study}")
            with first if not series and stale else nullcontext():
                fresh = {rid: s.every(stride) for rid, s in store.series(split, name, stale).items()}
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


AGGREGATES = ("best", "mean")  # per group: its best setting (band over that setting's seeds), or all its runs


@dataclass(frozen=True)
class CurveRequest:
    """What to draw: `x` axis; groups by the config `keys` (none: one line per configuration), each group its
    best setting by the metric (`aggregate` best, in direction `mode`) or the mean of all its runs (mean);
    at most `points` points a line."""

    x: str
    keys: tuple[str, ...]
    aggregate: str
    mode: str
    points: int
    window: tuple[float, float] | None = None  # a zoomed view: only x in [low, high]


def curves(
    runs: pd.DataFrame,
    series: dict[str, Series],
    request: CurveRequest,
    train: dict[str, dict[str, Series]],
    lr: dict[str, Series],
) -> list[dict[str, Any]]:
    """Traces for the dashboard, drawn the report's way: a line per configuration (every config key but the
    seed: an experiment) with the mean and 95 % band over its seeds; with `keys`, a line per group, its best
    setting's or all its runs' (the band stated in `n`); each at most `points` points (LTTB)."""
    line = _Lines(series, request, train, lr)
    if not request.keys:
        return [
            t
            for number, members in runs.groupby("experiment", sort=True)
            if (t := line(f"{number}: {members['label'].iloc[0]}", members)) is not None
        ]
    traces = []
    for name, members in runs.groupby(group_names(runs, list(request.keys)), sort=True):
        if request.aggregate == "mean":
            trace = line(str(name), members, settings=members["experiment"].nunique())
        else:
            ranked = ranked_settings(members, series, request.mode)
            if not ranked:
                continue
            chosen = members[members["experiment"] == ranked[0]]
            label = f"{name}: {chosen['label'].iloc[0]} (best of {members['experiment'].nunique()})"
            trace = line(label, chosen)
        if trace is not None:
            traces.append(trace)
    return traces


def run_curves(
    runs: pd.DataFrame, series: dict[str, Series], request: CurveRequest, train: dict[str, dict[str, Series]], lr: dict
) -> list[dict[str, Any]]:
    """One line per run (the runs ticked in the table)."""
    traces = []
    for r in runs.itertuples():
        s = series.get(r.id)
        if s is None:
            continue
        xs = _x(s, request.x, train, r.id)
        shown, ys = _within(*_finite(xs, s.value), request.window)
        keep = lttb(shown, ys, request.points)
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


class _Lines:
    """A band trace of some runs: their mean and 95 % interval at each x (analysis.curves.band)."""

    def __init__(self, series: dict[str, Series], request: CurveRequest, train: dict, lr: dict) -> None:
        self.series, self.request, self.train, self.lr = series, request, train, lr

    def __call__(self, name: str, members: pd.DataFrame, settings: int = 1) -> dict[str, Any] | None:
        x = self.request.x
        ids = [r for r in members["id"] if r in self.series]
        lines = [_finite(_x(self.series[r], x, self.train, r), self.series[r].value) for r in ids]
        lines = [(xs, ys) for xs, ys in lines if len(xs)]
        if not lines:
            return None
        xs, mean, low, high, n = band([a for a, _ in lines], [b for _, b in lines])
        inside = _window_mask(xs, self.request.window)
        xs, mean, low, high, n = xs[inside], mean[inside], low[inside], high[inside], n[inside]
        if not len(xs):
            return None
        keep = lttb(xs, mean, self.request.points)
        first = self.series[ids[0]]
        drops = lr_drops(self.lr.get(ids[0]), _x(first, x, self.train, ids[0]), first.epoch)
        return {
            "name": name,
            "n": int(n.max()),
            "settings": settings,
            "x": _list(xs, keep),
            "y": _list(mean, keep),
            "low": _list(low, keep),
            "high": _list(high, keep),
            "drops": drops,
        }


def ranked_settings(runs: pd.DataFrame, series: dict[str, Series], mode: str) -> list[int]:
    """The experiments (settings) of `runs` best first: by the best value of the metric their runs reach, on
    average over their seeds; those with no finite value are left out."""
    reached: dict[int, list[float]] = {}
    for rid, number in zip(runs["id"], runs["experiment"]):
        values = series[rid].value if rid in series else np.zeros(0)
        values = values[np.isfinite(values)]
        if len(values):
            reached.setdefault(int(number), []).append(values.max() if mode == "max" else values.min())
    means = {number: float(np.mean(v)) for number, v in reached.items()}
    return sorted(means, key=lambda n: -means[n] if mode == "max" else means[n])


def best_configurations(runs: pd.DataFrame, series: dict[str, Series], mode: str, limit: int) -> pd.DataFrame:
    """The runs of the `limit` best configurations (all of them when there are no more)."""
    if runs["experiment"].nunique() <= limit:
        return runs
    return runs[runs["experiment"].isin(ranked_settings(runs, series, mode)[:limit])]


def _window_mask(xs: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    return np.ones(len(xs), bool) if window is None else (xs >= window[0]) & (xs <= window[1])


def _within(xs: np.ndarray, ys: np.ndarray, window: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    inside = _window_mask(xs, window)
    return xs[inside], ys[inside]


def _finite(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points whose x is known (a round without its examples or FLOPs recorded has none)."""
    ok = np.isfinite(xs)
    return xs[ok], ys[ok]


def _list(values: Any, keep: np.ndarray) -> list[float | None]:
    """JSON-ready values at the kept indices (NaN as null)."""
    v = np.asarray(values, dtype=float)[keep]
    return [None if not np.isfinite(a) else float(a) for a in v]
