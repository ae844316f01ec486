"""Learning curves from long-format metrics: seed aggregation and time-to-target."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from trainlab.store.series import last_per_round

# The x axes a curve can be drawn against: public name -> metrics column (see `with_axes`).
AXES = {"step": "step", "epoch": "data_epochs", "seen": "seen", "seconds": "wall_s", "flops": "flops"}


def with_axes(metrics: pd.DataFrame, steps_per_epoch: dict[str, int]) -> pd.DataFrame:
    """`metrics` with the columns every x axis needs on every row: `data_epochs` (passes over the training
    data, step / steps per epoch; the store's epoch for runs that did not record their epoch length),
    and `seen` and `flops`, the cumulative examples (or tokens) and training FLOPs at the end of the row's
    round, taken from the round's train rows (NaN where a run did not record them)."""
    codes, run_ids = _codes(metrics["run_id"])  # once per run, not per row: a sweep has millions of rows
    epochs = metrics["epoch"].to_numpy()
    width = int(epochs.max()) + 1 if len(epochs) else 1
    values, train = metrics["value"].to_numpy(dtype=float), (metrics["split"] == "train").to_numpy()
    columns = {}
    for name in ("seen", "flops"):  # a (run, round) table, then one gather: no merge of millions of rows
        at = np.flatnonzero(train & (metrics["name"] == name).to_numpy())
        cell = codes[at].astype(np.int64) * width + epochs[at]
        last = at[len(at) - 1 - np.unique(cell[::-1], return_index=True)[1]]  # a round's last row wins
        table = np.full((len(run_ids), width), np.nan)
        table[codes[last], epochs[last]] = values[last]
        columns[name] = table[codes, epochs]
    per_run = np.array([steps_per_epoch.get(r, np.nan) for r in run_ids], dtype=float)[codes]
    columns["data_epochs"] = np.where(np.isnan(per_run), epochs, metrics["step"].to_numpy() / per_run)
    # one new frame sharing the old columns (assigning to a copy would copy each column again: seconds here)
    return pd.DataFrame({**{c: metrics[c] for c in metrics.columns}, **columns}, copy=False)


def _codes(labels: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of the labels and the labels they number: a categorical's own, else factorized."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return labels.cat.codes.to_numpy(), labels.cat.categories
    codes, uniques = pd.factorize(labels)
    return codes, pd.Index(uniques)


KEYS = ["run_id", "split", "name"]  # what one series is


def series_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The rows that make the series (trainlab.store.series: one per round, the last recorded, in round
    order), grouped by (run, split, name)."""
    if metrics.empty:
        return metrics
    return metrics.iloc[last_per_round(series_codes(metrics), metrics["epoch"].to_numpy())]


def series_codes(metrics: pd.DataFrame) -> np.ndarray:
    """A number per row naming its series (run, split, name): from the categories' codes by arithmetic when
    the labels are categorical (the report's metrics: no hashing of millions of rows), else by grouping."""
    columns = [metrics[k] for k in KEYS]
    if not all(isinstance(c.dtype, pd.CategoricalDtype) for c in columns):
        return metrics.groupby(KEYS, sort=False, observed=True).ngroup().to_numpy()
    codes = np.zeros(len(metrics), dtype=np.int64)
    for column in columns:
        codes = codes * len(column.cat.categories) + column.cat.codes.to_numpy(dtype=np.int64)
    return codes


def curve(metrics: pd.DataFrame, run_id: str, split: str, name: str, x: str = "epoch") -> pd.Series:
    """One run's metric, one value per round, as a Series indexed by column `x` (epoch: the store's
    round; or a column of AXES); rounds without an x value are left out."""
    return Curves(metrics[metrics["run_id"] == run_id])(run_id, split, name, x)


class Curves:
    """`curve` over metrics indexed once by (run, split, name): a report over 1,000 runs asks for tens of
    thousands of curves, and filtering (or even slicing) a DataFrame for each would take minutes. The
    series' rows are found once (`series_rows`), then held as numpy columns."""

    def __init__(self, metrics: pd.DataFrame) -> None:
        self._metrics = metrics
        rows = series_rows(metrics)
        self._columns = {c: rows[c].to_numpy(dtype=float) for c in rows.columns if c not in KEYS}
        self._at = rows.groupby(KEYS, sort=False, observed=True).indices if len(rows) else {}
        self._all_rows: dict | None = None

    def __call__(self, run_id: str, split: str, name: str, x: str = "epoch") -> pd.Series:
        at = self._at.get((run_id, split, name))
        if at is None:
            return pd.Series(dtype=float)
        xs, values = self._columns[x][at], self._columns["value"][at]
        keep = ~np.isnan(xs)
        xs, values = xs[keep], values[keep]
        if len(xs) > 1 and (np.diff(xs) < 0).any():  # x not cumulative (a clock restarted): order by x
            order = np.argsort(xs, kind="stable")
            xs, values = xs[order], values[order]
        return pd.Series(values, index=pd.Index(xs, name=x), name="value")

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
