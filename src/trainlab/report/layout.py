"""Rules every figure follows, so that a report of 1,000 runs reads like one of six.

- Small multiples wrap into rows of at most MAX_COLUMNS panels.
- With more than HIGHLIGHT configurations in one axes, the best HIGHLIGHT are drawn in colour and named in
  the legend; the rest are thin light grey lines under them (one legend entry says how many).
- The y scale follows the metric: linear for accuracy-like metrics (higher is better: accuracy, BLEU,
  exact match), and for losses unless their values span more than a decade, then logarithmic.
- Legends go outside the axes (below or beside them), never over the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

MAX_COLUMNS = 4
HIGHLIGHT = 8
GREY = "#c8c8c8"
HIGHLIGHT_COLOURS = [f"C{i}" for i in (0, 1, 2, 3, 4, 5, 6, 8)]  # C7 is grey: it would read as "the rest"


def wrapped_axes(n: int, width: float = 3.6, height: float = 3.2, sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of n panels in rows of at most MAX_COLUMNS (the unused cells of the last row hidden)."""
    columns = max(1, min(n, MAX_COLUMNS))
    rows = max(1, -(-n // columns))
    fig = Figure(figsize=(width * columns + 0.8, height * rows + 0.9), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(rows, columns, squeeze=False, sharey=sharey)).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def palette(n: int) -> list[str]:
    """n distinct colours (matplotlib's cycle, then tab20 beyond ten)."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def metric_scale(mode: str, values: Sequence[float]) -> str:
    """'linear' for accuracy-like metrics; for losses 'log' only when their positive values span a decade."""
    if mode == "max":
        return "linear"
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return "log" if len(v) and v.max() / v.min() > 10 else "linear"
