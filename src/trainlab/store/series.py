"""A metric series as the store defines it: one value per round (the store's epochs), the last row recorded
for a round winning (a run resumed mid-round rewrites it; stores older than rounds kept several), in round
order. Every reader (the report's curves, the dashboard, the summaries) applies this one rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def last_per_round(series: np.ndarray, epoch: np.ndarray) -> np.ndarray:
    """Indices of the rows that make each series (rows labelled by `series`, e.g. codes of (run, split,
    name)): grouped by series, in round order, the last row recorded of each round. The sort is stable, so
    "last" is the order the rows were stored in."""
    in_order = len(series) < 2 or _grouped_in_order(series, epoch)  # as the store returns them: no sort needed
    order = None if in_order else np.lexsort((epoch, series))
    s, e = (series, epoch) if order is None else (series[order], epoch[order])
    last = np.flatnonzero(np.r_[(s[1:] != s[:-1]) | (e[1:] != e[:-1]), True]) if len(s) else np.zeros(0, int)
    return last if order is None else order[last]


def _grouped_in_order(series: np.ndarray, epoch: np.ndarray) -> bool:
    """True when the rows already run series by series with rounds not decreasing (the store's order), so
    the stable sort would leave them as they are: one pass instead of a sort of millions of rows."""
    step = np.diff(series)
    return bool(((step > 0) | ((step == 0) & (np.diff(epoch) >= 0))).all())


@dataclass(frozen=True)
class Series:
    """One run's metric, one entry per round."""

    epoch: np.ndarray
    step: np.ndarray
    wall_s: np.ndarray
    value: np.ndarray

    def every(self, stride: int) -> Series:
        """Every `stride`-th round from the first: a copy for display that keeps runs aligned round by round."""
        if stride <= 1:
            return self
        return Series(self.epoch[::stride], self.step[::stride], self.wall_s[::stride], self.value[::stride])
