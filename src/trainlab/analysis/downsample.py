"""Fewer points for drawing, the same picture: Largest-Triangle-Three-Buckets (Steinarsson 2013, "Downsampling
Time Series for Visual Representation", §4.2). Keeps the first and last points and, from each of n - 2 equal
buckets between them, the point that spans the largest triangle with the point kept before it and the mean
of the next bucket, so peaks and drops survive where a stride would skip them. For drawing only: tables and
statistics always use every point.
"""

from __future__ import annotations

import numpy as np


def lttb(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Indices of at most `n` points of the curve (x increasing) that draw like the whole (n >= 3)."""
    size = len(x)
    if size <= n:
        return np.arange(size)
    edges = np.linspace(1, size - 1, n - 1).astype(int)  # n - 2 buckets over the inner points, [edges[b], edges[b+1])
    bounds = np.r_[edges, size]
    counts = np.diff(bounds)  # each bucket, then the last point alone: the "next bucket" of the last bucket
    mean_x, mean_y = np.add.reduceat(x, bounds[:-1]) / counts, np.add.reduceat(y, bounds[:-1]) / counts
    kept = [0]
    for b in range(n - 2):
        lo, hi = edges[b], edges[b + 1]
        ax, ay = x[kept[-1]], y[kept[-1]]
        area = np.abs((ax - mean_x[b + 1]) * (y[lo:hi] - ay) - (ax - x[lo:hi]) * (mean_y[b + 1] - ay))
        kept.append(lo + int(np.argmax(area)))
    kept.append(size - 1)
    return np.asarray(kept)


def min_max(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of at most `n` points of a finite curve, in order: the first and the last, and the lowest and
    the highest of each of (n - 2) // 2 equal buckets between them (the extremes a line drawn through every
    point would reach; M4-style, Jugel et al. 2014, "M4: A Visualization-Oriented Time Series Data
    Aggregation"). Vectorised: thousands of curves of a large sweep take milliseconds, where `lttb` loops
    over its buckets."""
    size = len(y)
    if size <= n:
        return np.arange(size)
    starts = np.unique(np.linspace(1, size - 1, max(1, (n - 2) // 2) + 1).astype(int)[:-1])
    lengths = np.diff(np.r_[starts, size - 1])
    inner, index = y[: size - 1], np.arange(size - 1)
    lows = np.repeat(np.minimum.reduceat(inner, starts), lengths)
    highs = np.repeat(np.maximum.reduceat(inner, starts), lengths)
    at_low = np.minimum.reduceat(np.where(inner[starts[0] :] == lows, index[starts[0] :], size), starts - starts[0])
    at_high = np.minimum.reduceat(np.where(inner[starts[0] :] == highs, index[starts[0] :], size), starts - starts[0])
    return np.unique(np.r_[0, at_low, at_high, size - 1])
