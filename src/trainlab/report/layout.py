"""Rules every figure follows, so that a report of 1,000 runs reads like one of six.

- Small multiples wrap into rows of at most MAX_COLUMNS panels.
- With more than HIGHLIGHT configurations in one axes, the best HIGHLIGHT are drawn in colour and named in
  the legend; the rest are thin light grey lines under them (one legend entry says how many).
- The y scale follows the metric: linear for accuracy-like metrics (higher is better: accuracy, BLEU,
  exact match), and for losses unless their values span more than a decade, then logarithmic.
- Legends go outside the axes (below or beside them), never over the data.
- Within a figure each configuration has its own colour from a colour-blind-safe palette and its own marker
  (and its own dash pattern where dashes do not already tell train from valid), so no two lines differ by
  colour alone; lines drawn later are thinner, so a line that lies on another leaves it visible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

MAX_COLUMNS = 4
HIGHLIGHT = 8
GREY = "#c8c8c8"
# Okabe & Ito (2008), "Color Universal Design": eight colours told apart under the common colour-vision
# deficiencies; yellow last, as it is faint on white. No grey: grey reads as "the rest".
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
HIGHLIGHT_COLOURS = COLOURS[:HIGHLIGHT]
MARKERS = "os^vDP*X"
DASHES = ["-", "--", "-.", ":"]
WIDEST, NARROWEST = 2.4, 1.0  # line widths of the first and of the last lines drawn in one axes


def wrapped_axes(n: int, width: float = 3.6, height: float = 3.2, sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of n panels in rows of at most MAX_COLUMNS (the unused cells of the last row hidden)."""
    columns = max(1, min(n, MAX_COLUMNS))
    rows = max(1, -(-n // columns))
    fig = Figure(figsize=(width * columns + 0.8, height * rows + 0.9), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(rows, columns, squeeze=False, sharey=sharey)).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def marker(i: int) -> str:
    """The i-th configuration's marker; past eight the same colour returns with another marker."""
    return MARKERS[(i + i // len(COLOURS)) % len(MARKERS)]


def dashes(i: int) -> str:
    return DASHES[i % len(DASHES)]


def width(i: int, n: int) -> float:
    """The line width of the i-th of n lines drawn in one axes: the first widest, so each later one, thinner
    on top of it, leaves it showing where two lines coincide (Adam and AdamW at a small learning rate)."""
    return WIDEST if n < 2 else WIDEST - (WIDEST - NARROWEST) * i / (n - 1)


def marks(i: int, points: int) -> tuple[int, int]:
    """`markevery` of the i-th line: about eight markers, offset per line so coinciding lines show both."""
    every = max(1, points // 8)
    return (i % every, every)


def metric_scale(mode: str, values: Sequence[float]) -> str:
    """'linear' for accuracy-like metrics; for losses 'log' only when their positive values span a decade."""
    if mode == "max":
        return "linear"
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return "log" if len(v) and v.max() / v.min() > 10 else "linear"
