"""Learning curves from long-format metrics: seed aggregation and time-to-target."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from trainlab.store.series import last_per_round

# The x axes a curve can be drawn against: public name -> what `Curves` reads for it: a column of the
# metrics, or one it derives per curve (data_epochs, seen, flops).
AXES = {"step": "step", "epoch": "data_epochs", "seen": "seen", "seconds": "wall_s", "flops": "flops"}
PER_ROUND = ("seen", "flops")  # an x taken from the round's train rows of that name


KEYS = ["run_id", "split", "name"]  # what one series is


COLUMNS = ("epoch", "step", "wall_s", "value")  # what a series holds per round


def series_index(metrics: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[tuple[str, str, str], slice]]:
    """The rows that make the series (trainlab.store.series: one per round, the last recorded, in round
    order) as numpy columns, and where each series (run, split, name) lies in them: its slice. Where every
    row is one (one row per round, in the store's order: the common case), the columns are the metrics' own,
    not copies (a copy of 20 million rows costs seconds)."""
    if metrics.empty:
        return {c: np.empty(0) for c in COLUMNS}, {}
    codes = series_codes(metrics)
    kept = last_per_round(codes, metrics["epoch"].to_numpy())
    every = len(kept) == len(metrics) and bool((kept[1:] > kept[:-1]).all())
    columns = {c: metrics[c].to_numpy() if every else metrics[c].to_numpy()[kept] for c in COLUMNS}
    kept_codes = codes if every else codes[kept]
    starts = np.flatnonzero(np.r_[True, kept_codes[1:] != kept_codes[:-1]])
    ends = np.r_[starts[1:], len(kept_codes)]
    first = starts if every else kept[starts]
    keys = zip(*(_labels(metrics[k], first) for k in KEYS))
    return columns, {key: slice(int(a), int(b)) for key, a, b in zip(keys, starts, ends)}


def _labels(column: pd.Series, rows: np.ndarray) -> list:
    """The column's values at `rows` (positions), without converting a categorical column as a whole."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories[column.cat.codes.to_numpy()[rows]])
    return list(column.to_numpy()[rows])


def series_codes(metrics: pd.DataFrame) -> np.ndarray:
    """A number per row naming its series (run, split, name): from the categories' codes by arithmetic when
    the labels are categorical (the report's metrics: no hashing of millions of rows; in place: one array),
    else by grouping."""
    columns = [metrics[k] for k in KEYS]
    if not all(isinstance(c.dtype, pd.CategoricalDtype) for c in columns):
        return metrics.groupby(KEYS, sort=False, observed=True).ngroup().to_numpy()
    codes = columns[0].cat.codes.to_numpy().astype(np.int64)
    for column in columns[1:]:
        codes *= len(column.cat.categories)
        codes += column.cat.codes.to_numpy()
    return codes


class Curves:
    """One run's metric over an x axis, from metrics indexed once by (run, split, name): a report over 1,000
    runs asks for tens of thousands of curves, and filtering (or even slicing) a DataFrame for each would take
    minutes. The series' rows are found once (`series_index`) and held as numpy columns; the x axes that are
    not columns are derived per curve, for its rows only (a column of them for 20 million rows costs seconds):
    `data_epochs` (passes over the training data: step / the run's `steps_per_epoch`, else the store's
    round), and `seen` and `flops`, the cumulative examples (or tokens) and training FLOPs at the end of the
    row's round, from the round's train rows (NaN where a run did not record them)."""

    def __init__(self, metrics: pd.DataFrame, steps_per_epoch: Mapping[str, float] | None = None) -> None:
        self._metrics = metrics
        self._columns, self._at = series_index(metrics)
        self._steps_per_epoch = dict(steps_per_epoch or {})
        self._rounds = int(self._columns["epoch"].max()) + 1 if self._at else 1
        self._per_round: dict[tuple[str, str], np.ndarray] = {}
        self._all_rows: dict | None = None

    def __call__(self, run_id: str, split: str, name: str, x: str = "epoch") -> pd.Series:
        at = self._at.get((run_id, split, name))
        if at is None:
            return pd.Series(dtype=float)
        xs, values = self._x(run_id, x, at), self._columns["value"][at].astype(float)
        keep = ~np.isnan(xs)
        xs, values = xs[keep], values[keep]
        if len(xs) > 1 and (np.diff(xs) < 0).any():  # x not cumulative (a clock restarted): order by x
            order = np.argsort(xs, kind="stable")
            xs, values = xs[order], values[order]
        return pd.Series(values, index=pd.Index(xs, name=x), name="value")

    def _x(self, run_id: str, x: str, at: slice) -> np.ndarray:
        epochs = self._columns["epoch"][at]
        if x in PER_ROUND:
            return self._round_values(run_id, x)[epochs]
        if x == "data_epochs":
            per_epoch = self._steps_per_epoch.get(run_id)
            return epochs.astype(float) if per_epoch is None else self._columns["step"][at] / per_epoch
        return self._columns[x][at].astype(float)

    def _round_values(self, run_id: str, name: str) -> np.ndarray:
        """The run's train `name` by round (NaN where not recorded): the x of every series of the run."""
        key = (run_id, name)
        if key not in self._per_round:
            table = np.full(self._rounds, np.nan)
            at = self._at.get((run_id, "train", name))
            if at is not None:
                table[self._columns["epoch"][at]] = self._columns["value"][at]
            self._per_round[key] = table
        return self._per_round[key]

    def value_at(self, run_id: str, split: str, name: str, epoch: float, column: str = "value") -> float:
        """A series' `column` at round `epoch` (NaN when the series has no row there)."""
        at = self._at.get((run_id, split, name))
        if at is None or math.isnan(epoch):  # no best epoch yet
            return math.nan
        epochs = self._columns["epoch"][at]
        i = int(np.searchsorted(epochs, epoch))  # a series is in round order
        return float(self._columns[column][at][i]) if i < len(epochs) and epochs[i] == epoch else math.nan

    def values(self, run_id: str, split: str, name: str) -> np.ndarray:
        """A series' values, one per round."""
        at = self._at.get((run_id, split, name))
        return np.empty(0) if at is None else self._columns["value"][at].astype(float)

    def rows(self, run_id: str, split: str, name: str) -> pd.DataFrame:
        """Every stored row of one run's metric (several per round where a store kept mid-epoch ones)."""
        if self._all_rows is None:
            self._all_rows = self._metrics.groupby(KEYS, sort=False, observed=True).indices
        at = self._all_rows.get((run_id, split, name))
        return self._metrics.iloc[at] if at is not None else self._metrics.iloc[:0]


def seed_band(curves: list[pd.Series], level: float = 0.95) -> pd.DataFrame:
    """Mean and CI per x over seeds (x values aligned by position, e.g. epochs 1..E; the mean ± Student-t
    interval of `mean_ci`, computed for every position at once).

    Wall-clock x differs per seed, so its x is the mean x at each position.
    """
    x, mean, low, high, n = band(
        [c.index.to_numpy(dtype=float) for c in curves], [c.to_numpy(dtype=float) for c in curves], level
    )
    return pd.DataFrame({"x": x, "mean": mean, "low": low, "high": high, "n": n})


def band(xs: list[np.ndarray], ys: list[np.ndarray], level: float = 0.95) -> tuple[np.ndarray, ...]:
    """`seed_band` on arrays: (x, mean, low, high, n) over the curves (xs[i], ys[i]), aligned by position
    up to the shortest."""
    length = min(len(y) for y in ys)
    x = np.mean([v[:length] for v in xs], axis=0)
    values = np.array([y[:length] for y in ys])  # (curves, positions)
    finite = np.isfinite(values)
    n = finite.sum(axis=0)
    clean = np.where(finite, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, clean.sum(axis=0) / n, np.nan)
        var = np.where(finite, (values - mean) ** 2, 0.0).sum(axis=0) / (n - 1)
        half = np.where(n > 1, stats.t.ppf((1 + level) / 2, np.maximum(n - 1, 1)) * np.sqrt(var / n), np.nan)
    return x, mean, mean - half, mean + half, n


def first_reaching(series: pd.Series, target: float, mode: str) -> float:
    """The first x at which the curve reaches `target` (>= for max, <= for min); NaN if never."""
    hit = series[series >= target] if mode == "max" else series[series <= target]
    return float(hit.index[0]) if len(hit) else math.nan


def within_target(best: float, mode: str, tolerance: float = 0.05) -> float:
    """The value that counts as 'within 5 % of the best': 0.95·best when higher is better, 1.05·best otherwise."""
    return best * (1 - tolerance) if mode == "max" else best * (1 + tolerance)


def overfitting_epoch(train_loss: pd.Series, valid_loss: pd.Series, rises: int = 2) -> float | None:
    """The x (epoch, step, ...) of the valid-loss minimum when, after it, valid loss rises for at least
    `rises` consecutive evaluations while train loss keeps falling over them; None otherwise."""
    valid = valid_loss.sort_index()
    v, t = valid.to_numpy(dtype=float), train_loss.reindex(valid.index).to_numpy(dtype=float)
    if not len(v):
        return None
    i = valid.index.get_loc(valid.idxmin())
    worse = (v[i + 1 :] > v[i:-1]) & (t[i + 1 :] < t[i:-1])  # each step after the minimum: valid up, train down
    runs = np.convolve(worse.astype(int), np.ones(rises, dtype=int), mode="valid") if len(worse) >= rises else []
    return valid.index[i] if np.any(np.asarray(runs) >= rises) else None
