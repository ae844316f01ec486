"""A landscape CSV uploaded to the dashboard, turned into the JSON its page draws. It runs in a worker process
of its own (`UploadParser`), so that no upload, however large or hostile, can stall or take down the server:
the event loop goes on answering while a file is parsed, and a worker that runs out of memory is replaced."""

from __future__ import annotations

import asyncio
import io
import json
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import pandas as pd

# What an uploaded CSV may ask of the server: a value is a number, so a few dozen characters at most; a grid is
# made of its rows (each x with each y), so at least a quarter of its points must be rows of the file; and all
# frames together hold at most the points of four 1,000 x 1,000 grids (about 32 MB of float64).
MAX_FIELD = 64
MIN_FILLED = 0.25
MAX_POINTS = 4_000_000


def read_csv(text: str) -> dict[int | None, dict[str, np.ndarray]]:
    """Frames from a landscape CSV in trainlab's format (`landscape.csv`: columns x, y, one per metric, and
    an optional epoch; one row per grid point), computed by trainlab or anywhere else. Parsed as numbers
    only; raises ValueError, naming what is wrong, for anything else: a field longer than a number, a
    coordinate that is not a finite number, rows that cannot make a grid. Metric values may be nan or inf
    (a diverged point: drawn as a gap), and empty (no value); an empty epoch cell means a single surface."""

    if _longest_field(text) > MAX_FIELD:
        raise ValueError(f"a field of more than {MAX_FIELD} characters: every value is a number")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # a row longer than the header
            table = pd.read_csv(io.StringIO(text), skipinitialspace=True, index_col=False, dtype=float)
    except pd.errors.ParserWarning:
        raise ValueError("a row has more values than the header has columns") from None
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(str(err).strip().splitlines()[0]) from None
    header = [str(h).strip() for h in table.columns]
    if "x" not in header or "y" not in header:
        raise ValueError(f"the header must name columns x and y (got {', '.join(header) or 'nothing'})")
    metrics = [h for h in header if h not in ("epoch", "x", "y")]
    if not metrics:
        raise ValueError("no metric column besides epoch, x and y")
    if table.empty:
        raise ValueError("no rows under the header")
    columns = {h: table.iloc[:, i].to_numpy(dtype=float) for i, h in enumerate(header)}
    for h in ("x", "y"):
        if not np.isfinite(columns[h]).all():
            raise ValueError(f"column {h}: every value must be a finite number")
    epochs = columns.get("epoch", np.full(len(table), np.nan))
    numbered = np.unique(epochs[np.isfinite(epochs)])
    if (numbered != np.round(numbered)).any():
        raise ValueError(f"column epoch: {numbered[numbered != np.round(numbered)][0]:g} is not a whole number")
    frames, points = {}, 0
    for epoch in numbered.tolist() or [None]:
        at = np.isnan(epochs) if epoch is None else epochs == epoch
        what = "the surface" if epoch is None else f"epoch {epoch:g}"
        frame = _grid({k: v[at] for k, v in columns.items()}, metrics, what)
        points += frame["xs"].size * frame["ys"].size
        if points > MAX_POINTS:
            raise ValueError(f"more than {MAX_POINTS:,} grid points in all; split the file")
        frames[None if epoch is None else int(epoch)] = frame
    return frames


def _longest_field(text: str) -> int:
    """Characters in the longest field (between commas and line ends), counted without a Python loop."""
    raw = np.frombuffer(text.encode(), dtype=np.uint8)
    cuts = np.flatnonzero((raw == ord(",")) | (raw == ord("\n")) | (raw == ord("\r")))
    return int((np.diff(np.concatenate([[-1], cuts, [raw.size]])) - 1).max())


def _grid(columns: dict[str, np.ndarray], metrics: list[str], what: str) -> dict[str, np.ndarray]:
    """One frame: the distinct xs and ys, and each metric on the ys x xs grid (nan where no row is)."""
    xs, ys = np.unique(columns["x"]), np.unique(columns["y"])
    rows = len(columns["x"])
    if xs.size * ys.size > rows / MIN_FILLED:
        filled = rows / (xs.size * ys.size)
        raise ValueError(
            f"{what}: {rows:,} rows on a {ys.size:,} x {xs.size:,} grid fill {filled:.2%} of it; a "
            f"landscape CSV holds a grid (each x with each y), at least {MIN_FILLED:.0%} filled"
        )
    at = np.searchsorted(ys, columns["y"]), np.searchsorted(xs, columns["x"])
    frame = {"xs": xs, "ys": ys}
    for m in metrics:
        z = np.full((ys.size, xs.size), np.nan)
        z[at] = columns[m]
        frame[m] = z
    return frame


def upload_json(body: bytes) -> str:
    """The page's JSON of an uploaded CSV (grids with NaN and infinities as null); ValueError (or
    UnicodeDecodeError) names what is wrong with the file."""
    frames = read_csv(body.decode("utf-8"))
    return json.dumps({"spec": {"dirs": "uploaded"}, **frames_json(frames), "trajectory": []})


def frames_json(frames: dict) -> dict[str, Any]:
    """Grids as lists (NaN and infinities as null), one entry per epoch (key 'surface' for a single frame)."""

    def grid(a: np.ndarray) -> list:
        a = np.atleast_2d(a)
        return np.where(np.isfinite(a), a, None).tolist()

    first = next(iter(frames.values()))
    metrics = [k for k in first if k not in ("xs", "ys")]
    return {
        "xs": first["xs"].tolist(),
        "ys": first["ys"].tolist(),
        "metrics": metrics,
        "frames": {("surface" if e is None else str(e)): {m: grid(f[m]) for m in metrics} for e, f in frames.items()},
    }


class UploadParser:
    """One worker process (started on the first upload) that parses uploads one at a time."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def parse(self, body: bytes) -> str:
        """The JSON of `body`; ValueError for a file that is not a landscape, MemoryError for one the worker
        could not hold (the worker is then replaced)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return await asyncio.wrap_future(self._pool.submit(upload_json, body))
        except BrokenProcessPool:
            self.close()
            raise MemoryError(
                "the process parsing it stopped (out of memory, or killed); a new one takes the next"
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
