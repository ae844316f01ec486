"""How a series' rows are kept (store format 2): in chunks of up to CHUNK rows, each one packed blob of
fixed-size records, in the order they were recorded, so that reading a curve is one range scan of a few
blobs that numpy takes as they are.

One row per value in its own SQLite record cost 31 bytes per value and 3-5 s to read one metric of 1,000
runs x 2,000 rounds (measured; SQLite hands rows to Python one at a time). A record here is 28 bytes:
round (int32), step (int64), value and wall seconds (float64, exactly as recorded).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from trainlab.store.events import MetricRow

CHUNK = 1024  # rows per blob: 28 KB, a few SQLite pages; appending rewrites at most this many
RECORD = np.dtype([("epoch", "<i4"), ("step", "<i8"), ("value", "<f8"), ("wall_s", "<f8")])


def pack(rows: Iterable[tuple[int, int, float | None, float]]) -> np.ndarray:
    """(epoch, step, value, wall seconds) rows as records; a missing value is NaN, as the store reads it."""
    return np.array([(e, s, np.nan if v is None else v, w) for e, s, v, w in rows], dtype=RECORD)


def unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=RECORD)


def join(blobs: Iterable[bytes]) -> np.ndarray:
    """The records of a series' chunks, in order (one copy)."""
    parts = [unpack(b) for b in blobs]
    return np.concatenate(parts) if parts else np.zeros(0, RECORD)


def chunks(records: np.ndarray) -> list[np.ndarray]:
    return [records[i : i + CHUNK] for i in range(0, len(records), CHUNK)]


# -- the tables: `series` (one row per run, split and name) and `points` (its chunks) ------------------------
# A chunk's key is its series' id x 2^20 + its number, so a series is one range of the points table's own
# b-tree, read in order by one range scan.

SHIFT = 20


def _span(series_id: int) -> tuple[int, int]:
    return series_id << SHIFT, ((series_id + 1) << SHIFT) - 1


def series_ids(db: sqlite3.Connection, run_id: str, names: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ids of a run's series (split, name), made where missing."""
    out = {}
    for split, name in names:
        db.execute("INSERT OR IGNORE INTO series (run_id, split, name) VALUES (?, ?, ?)", (run_id, split, name))
        (out[split, name],) = db.execute(
            "SELECT id FROM series WHERE run_id = ? AND split = ? AND name = ?", (run_id, split, name)
        ).fetchone()
    return out


def append(db: sqlite3.Connection, run_id: str, rows: Sequence[MetricRow]) -> None:
    """Store rows (step, epoch, split, name, value, wall_s) after those of their series, in this order."""
    grouped: dict[tuple[str, str], list[tuple[int, int, float | None, float]]] = {}
    for step, epoch, split, name, value, wall in rows:
        grouped.setdefault((split, name), []).append((epoch, step, value, wall))
    for key, series_id in series_ids(db, run_id, grouped).items():
        new = pack(grouped[key])
        lo, hi = _span(series_id)
        last = db.execute(
            "SELECT key, rows, data FROM points WHERE key BETWEEN ? AND ? ORDER BY key DESC LIMIT 1", (lo, hi)
        ).fetchone()
        if last is not None and last[1] < CHUNK:
            first, records = last[0], np.concatenate([unpack(last[2]), new])
        else:
            first, records = (last[0] + 1 if last else lo), new
        _write_chunks(db, first, records)
        _summarize(db, series_id, len(new), records[-1])


def _write_chunks(db: sqlite3.Connection, first: int, records: np.ndarray) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)",
        [(first + i, len(c), int(c["epoch"].max()), c.tobytes()) for i, c in enumerate(chunks(records))],
    )


def _last(record: np.void | None) -> tuple[int | None, float | None]:
    """A series' last round and value as the `series` table keeps them (a NaN value as NULL)."""
    if record is None:
        return None, None
    value = float(record["value"])
    return int(record["epoch"]), None if np.isnan(value) else value


def _summarize(db: sqlite3.Connection, series_id: int, added: int, last: np.void) -> None:
    """The series' row count and last value, after `added` rows ending with `last`."""
    db.execute(
        "UPDATE series SET rows = rows + ?, last_epoch = ?, last_value = ? WHERE id = ?",
        (added, *_last(last), series_id),
    )


def _recount(db: sqlite3.Connection, series_id: int) -> None:
    """The series' row count and last value, from its chunks (after rows were removed)."""
    lo, hi = _span(series_id)
    (rows,) = db.execute("SELECT ifnull(sum(rows), 0) FROM points WHERE key BETWEEN ? AND ?", (lo, hi)).fetchone()
    tail = db.execute(
        "SELECT data FROM points WHERE key BETWEEN ? AND ? ORDER BY key DESC LIMIT 1", (lo, hi)
    ).fetchone()
    last = _last(unpack(tail[0])[-1] if tail else None)
    db.execute("UPDATE series SET rows = ?, last_epoch = ?, last_value = ? WHERE id = ?", (rows, *last, series_id))


def drop(db: sqlite3.Connection, run_id: str, after_epoch: int, split_prefix: str) -> None:
    """Remove a run's rows of rounds after `after_epoch`, and every row of splits starting `split_prefix`
    (a resumed run records them again)."""
    for series_id, split in db.execute("SELECT id, split FROM series WHERE run_id = ?", (run_id,)).fetchall():
        lo, hi = _span(series_id)
        if split.startswith(split_prefix):
            db.execute("DELETE FROM points WHERE key BETWEEN ? AND ?", (lo, hi))
            _recount(db, series_id)
            continue
        (first,) = db.execute(
            "SELECT min(key) FROM points WHERE key BETWEEN ? AND ? AND max_epoch > ?", (lo, hi, after_epoch)
        ).fetchone()
        if first is None:
            continue
        rest = join(
            d for (d,) in db.execute("SELECT data FROM points WHERE key BETWEEN ? AND ? ORDER BY key", (first, hi))
        )
        db.execute("DELETE FROM points WHERE key BETWEEN ? AND ?", (first, hi))
        _write_chunks(db, first, rest[rest["epoch"] <= after_epoch])
        _recount(db, series_id)


def _chunks_of(db: sqlite3.Connection, where: str, params: Sequence[Any]) -> Iterator[tuple[int, bytes]]:
    """(series id, chunk) of every series the `where` clause (over `series s`) picks, in key order, one query."""
    return iter(db.execute(_chunk_query(where, "p.data"), params))


def _chunk_query(where: str, what: str, tail: str = "ORDER BY p.key") -> str:
    """SELECT (series id, `what`) over the chunks of the series `where` (over `series s`) picks."""
    return (
        f"SELECT p.key >> {SHIFT}, {what} FROM series s JOIN points p "
        f"ON p.key BETWEEN s.id << {SHIFT} AND ((s.id + 1) << {SHIFT}) - 1 WHERE {where} {tail}"
    )


def read(db: sqlite3.Connection, where: str, params: Sequence[Any]) -> dict[int, np.ndarray]:
    """The records of every series the `where` clause picks, by series id."""
    out: dict[int, list[bytes]] = {}
    for series_id, data in _chunks_of(db, where, params):
        out.setdefault(series_id, []).append(data)
    return {i: join(blobs) for i, blobs in out.items()}


def read_columns(
    db: sqlite3.Connection, where: str, params: Sequence[Any]
) -> tuple[dict[int, int], dict[str, np.ndarray]]:
    """The rows of every series the `where` clause picks as one aligned array per field (epoch and step as
    int64), series after series, and each series' row count in that order. The counts come first (the
    chunks' `rows`, without their data), so the columns are allocated once and each chunk is copied into
    them as it is read: no chunk is held after its copy (over millions of rows, holding every chunk and
    allocating is most of a read). Both queries read one snapshot: a writer in between changes neither."""
    own = not db.in_transaction
    if own:
        db.execute("BEGIN")  # deferred: a read snapshot from the first query to the COMMIT
    try:
        counts = dict(db.execute(_chunk_query(where, "sum(p.rows)", "GROUP BY 1 ORDER BY 1"), params).fetchall())
        total = sum(counts.values())
        columns = {f: np.empty(total, dtype=np.int64 if f in ("epoch", "step") else np.float64) for f in RECORD.names}
        start = 0
        for _, data in _chunks_of(db, where, params):
            records = unpack(data)
            for name, column in columns.items():
                column[start : start + len(records)] = records[name]
            start += len(records)
    finally:
        if own:
            db.execute("COMMIT")
    return counts, columns
