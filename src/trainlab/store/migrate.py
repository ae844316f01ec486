"""Store formats. Format 1 (trainlab before 0.2) kept one `metrics` row per value, text ids on every row and
an index that did not cover a metric's name: reading one metric of 1,000 runs scanned them all. Format 2
keeps each series' rows in packed chunks (trainlab.store.points). A format-1 store is upgraded in place the
first time it is opened to be written, in one transaction, after a copy of it is saved beside it
(store.sqlite.format1.bak); a store of a newer format than this trainlab knows is refused."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

from trainlab.errors import TrainlabError
from trainlab.store import points

FORMAT = 2
BACKUP = "store.sqlite.format1.bak"
BATCH = 50_000  # rows read at a time while upgrading


def version(db: sqlite3.Connection) -> int:
    """The store's format: its user_version, or 1 for a store that still has the format-1 table."""
    (stamped,) = db.execute("PRAGMA user_version").fetchone()
    return stamped or (1 if _has_metrics_table(db) else FORMAT)


def _has_metrics_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'metrics'").fetchone() is not None


def refuse_newer(db: sqlite3.Connection, path: Path) -> None:
    found = version(db)
    if found > FORMAT:
        raise TrainlabError(
            f"store {path.parent}: format {found}, newer than this trainlab reads ({FORMAT}); upgrade trainlab"
        )


def check_readable(db: sqlite3.Connection, path: Path) -> None:
    """A read-only connection cannot upgrade: a format-1 store is refused, saying how to upgrade it."""
    refuse_newer(db, path)
    if version(db) < FORMAT:
        raise TrainlabError(
            f"store {path.parent}: format 1, from an older trainlab; run `trainlab ls --store {path.parent}` "
            "where it can be written once to upgrade it in place (a copy of the old file is kept)"
        )


def back_up(db: sqlite3.Connection, path: Path) -> None:
    """A consistent copy of a format-1 store (WAL included) beside it, before it is upgraded."""
    if version(db) == 1 and not (path.parent / BACKUP).exists():
        copy = sqlite3.connect(path.parent / BACKUP)
        try:
            db.backup(copy)
        finally:
            copy.close()


def upgrade(db: sqlite3.Connection) -> None:
    """Move a format-1 store's metric rows into series and points (in the caller's transaction, after the
    format-2 tables exist), each series' rows in the order they were recorded; then drop the old table."""
    if not _has_metrics_table(db):
        return
    rows = db.execute("SELECT run_id, step, epoch, split, name, value, wall_s FROM metrics ORDER BY run_id, rowid")
    for run_id, group in itertools.groupby(_batches(rows), key=lambda r: r[0]):
        points.append(db, run_id, [r[1:] for r in group])
    db.execute("DROP TABLE metrics")


def _batches(cursor: sqlite3.Cursor):  # noqa: ANN202 - a generator of rows
    while batch := cursor.fetchmany(BATCH):
        yield from batch
