"""Connections to store.sqlite: read-write (WAL) or read-only (also on a read-only medium), one transaction
helper, and a damaged file said in one line wherever a query meets it, never as sqlite3's traceback."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError


class StoreDamaged(TrainlabError):
    """store.sqlite is not a database, or a page of it cannot be read."""

    def __init__(self, path: Path, err: Exception) -> None:
        super().__init__(
            f"{path}: the store's database is damaged ({err}); restore it from a copy, or keep what SQLite can "
            f"still read: sqlite3 {path} .recover | sqlite3 {path.with_name('recovered.sqlite')} "
            f"(then move recovered.sqlite to {path.name})"
        )


@contextmanager
def _damage_said(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as err:
        if type(err) is not sqlite3.DatabaseError:  # locked, full, read-only, a constraint: not damage
            raise
        raise StoreDamaged(path, err) from None


class _Cursor(sqlite3.Cursor):
    """sqlite3's cursor, with damage found while stepping through rows said as StoreDamaged."""

    def execute(self, *args: Any) -> _Cursor:
        with _damage_said(self.connection.store_path):
            return super().execute(*args)

    def executemany(self, *args: Any) -> _Cursor:
        with _damage_said(self.connection.store_path):
            return super().executemany(*args)

    def fetchone(self) -> Any:
        with _damage_said(self.connection.store_path):
            return super().fetchone()

    def fetchmany(self, *args: Any) -> list[Any]:
        with _damage_said(self.connection.store_path):
            return super().fetchmany(*args)

    def fetchall(self) -> list[Any]:
        with _damage_said(self.connection.store_path):
            return super().fetchall()

    def __next__(self) -> Any:
        with _damage_said(self.connection.store_path):
            return super().__next__()


class _Connection(sqlite3.Connection):
    store_path: Path

    def cursor(self, factory: type[sqlite3.Cursor] = _Cursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, *args: Any) -> sqlite3.Cursor:
        return self.cursor().execute(*args)

    def executemany(self, *args: Any) -> sqlite3.Cursor:
        return self.cursor().executemany(*args)


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """A connection to `path` in autocommit mode (transactions are explicit: `immediate`). Read-only, SQLite
    cannot change the file through it; on a read-only medium, where WAL's shared-memory file cannot be
    made, the file is opened as immutable (what it holds is all there is)."""
    if not read_only:
        db = sqlite3.connect(path, timeout=30, isolation_level=None, factory=_Connection)
    else:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        if not os.access(path.parent, os.W_OK) and not path.with_name(path.name + "-shm").exists():
            wal = path.with_name(path.name + "-wal")
            if wal.exists() and wal.stat().st_size:
                raise TrainlabError(
                    f"{path}: on a read-only medium with writes still in {wal.name}, which SQLite "
                    "cannot read there; copy the store to a writable folder and read it there"
                )
            uri += "&immutable=1"
        db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, factory=_Connection)
    db.store_path = path
    return db


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on `db`, committed at the end of the block and rolled back if it raises.
    IMMEDIATE takes the write lock at once, so two writers queue (busy timeout) instead of failing to
    upgrade a read lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
