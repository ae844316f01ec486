"""Metric series for the dashboard: read from the store once per (study, split, metric), kept in memory as
numpy arrays, and read again only for the runs that changed since (a training run's `updated_at` moves
at every epoch), so a study of 1,000 runs × 2,000 points answers a curve request from memory.

Curves are drawn from them the report's way (shared code): runs grouped by a config key
(trainlab.analysis.sweep.group_names), mean and 95 % band over each group's runs
(trainlab.analysis.curves.seed_band), and every line downsampled for drawing by LTTB.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainlab.analysis.curves import band
from trainlab.analysis.downsample import lttb
from trainlab.analysis.sweep import group_names
from trainlab.store import Store

COLUMNS = ("epoch", "step", "wall_s", "value")
X_COLUMNS = {"epoch": "epoch", "step": "step", "seconds": "wall_s", "seen": "seen", "flops": "flops"}


@dataclass(frozen=True)
class Series:
    """One run's metric, one entry per round (sorted by round, the last row of a round kept)."""

    epoch: np.ndarray
    step: np.ndarray
    wall_s: np.ndarray
    value: np.ndarray


def _parse(text: str | None) -> np.ndarray:
    if not text:
        return np.zeros(0)
    with warnings.catch_warnings():  # numpy calls fromstring's text mode deprecated; it is the fast parser
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.fromstring(text, sep=",")


def read_series(store: Store, split: str, name: str, run_ids: list[str]) -> dict[str, Series]:
    """The series of `run_ids` (one query; values concatenated in SQL and parsed by numpy, which is several
    times faster than fetching a Python tuple per row)."""
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    query = ("SELECT run_id, group_concat(epoch), group_concat(step), group_concat(wall_s), "
             "group_concat(ifnull(value, 'nan')) FROM metrics WHERE split = ? AND name = ? "
             f"AND run_id IN ({marks}) GROUP BY run_id")
    out = {}
    for rid, *columns in store._db.execute(query, (split, name, *run_ids)):
        epoch, step, wall, value = (_parse(c) for c in columns)
        order = np.argsort(epoch, kind="stable")  # rows come in (run, round) index order; a stable sort keeps it
        epoch, step, wall, value = epoch[order], step[order], wall[order], value[order]
        last = np.r_[epoch[1:] != epoch[:-1], True] if len(epoch) else np.zeros(0, bool)  # last row of each round
        out[rid] = Series(epoch[last], step[last], wall[last], value[last])
    return out


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
            fresh = read_series(store, split, name, stale)
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


def curves(runs: pd.DataFrame, series: dict[str, Series], x: str, group: str | None, points: int,
           train: dict[str, dict[str, Series]], lr: dict[str, Series]) -> list[dict[str, Any]]:
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
            traces.append({"name": str(value), "n": int(n.max()), "x": _list(xs, keep), "y": _list(mean, keep),
                           "low": _list(low, keep), "high": _list(high, keep),
                           "drops": lr_drops(lr.get(first), _x(series[first], x, train, first), series[first].epoch)
                           if first in series else []})
        return traces
    for r in runs.itertuples():
        s = series.get(r.id)
        if s is None:
            continue
        xs = _x(s, x, train, r.id)
        shown, ys = _finite(xs, s.value)
        keep = lttb(shown, ys, points)
        traces.append({"name": f"{r.experiment}: {r.label} (seed {r.seed})", "run": r.id, "status": r.status,
                       "x": _list(shown, keep), "y": _list(ys, keep), "drops": lr_drops(lr.get(r.id), xs, s.epoch)})
    return traces


def _finite(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points whose x is known (a round without its examples or FLOPs recorded has none)."""
    ok = np.isfinite(xs)
    return xs[ok], ys[ok]


def _list(values: Any, keep: np.ndarray) -> list[float | None]:
    """JSON-ready values at the kept indices (NaN as null)."""
    v = np.asarray(values, dtype=float)[keep]
    return [None if not np.isfinite(a) else float(a) for a in v]
