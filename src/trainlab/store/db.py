"""The store: `store.sqlite` (the one source of truth for reports) and `runs/<id>/` folders.

Tables: studies (spec), study_runs (experiment number and seed of each run in each study), runs
(config, status, parent and relation), series and points (each metric series' rows, packed in chunks:
trainlab.store.points), artifacts, claims (which process trains
which run). WAL mode; each epoch is one transaction, so a crash never leaves half an epoch behind.

Training never calls the write methods: it emits events (`trainlab.store.events`) that one
`StoreWriter` applies.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainlab.errors import TrainlabError
from trainlab.files import disk_full, is_disk_full
from trainlab.phases import phase
from trainlab.spec.dotted import flatten
from trainlab.store import migrate, points
from trainlab.store.claims import holder_alive
from trainlab.store.connection import connect, immediate
from trainlab.store.events import MetricRow
from trainlab.store.series import Series, last_per_round

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS study_runs (
    study TEXT NOT NULL, experiment INTEGER NOT NULL, seed INTEGER NOT NULL, run_id TEXT NOT NULL,
    label TEXT NOT NULL, changes TEXT NOT NULL, PRIMARY KEY (study, experiment, seed));
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, epochs_done INTEGER NOT NULL,
    main_metric TEXT, best_value REAL, best_epoch INTEGER, diverged_epoch INTEGER,
    params_total INTEGER, params_trainable INTEGER, params_non_embedding INTEGER, device TEXT,
    facts TEXT NOT NULL DEFAULT '{}', parent_id TEXT, relation TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, train_seconds REAL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0, last_epoch INTEGER, last_value REAL, UNIQUE (run_id, split, name));
CREATE INDEX IF NOT EXISTS series_by_metric ON series (split, name, run_id);
CREATE TABLE IF NOT EXISTS points (
    key INTEGER PRIMARY KEY, rows INTEGER NOT NULL, max_epoch INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, meta TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, path));
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, token TEXT NOT NULL, heartbeat REAL NOT NULL);
"""

# Columns added to `runs` after stores already existed: added in place when an older store is opened.
ADDED_RUN_COLUMNS = {
    "params_non_embedding": "INTEGER",
    "facts": "TEXT NOT NULL DEFAULT '{}'",
    "parent_id": "TEXT",
    "relation": "TEXT",
    "train_seconds": "REAL",
}
DONE_STATUSES = ("done", "diverged")
RUN_ID = re.compile(r"[0-9a-f]{6,64}")  # hashes only: a run folder never leaves runs/
EVENT_LOG = "events.jsonl"
METRIC_COLUMNS = {
    "run_id": object,
    "step": "int64",
    "epoch": "int64",
    "split": object,
    "name": object,
    "value": "float64",
    "wall_s": "float64",
}  # in each run's folder: the events the writer applied for it, one JSON line each


class Store:
    """A folder holding store.sqlite and one folder per run."""

    def __init__(self, root: str | Path, read_only: bool = False) -> None:
        self.root = Path(root)
        if read_only:  # SQLite's read-only mode: no statement on this connection can change the store
            if not self.path.exists():
                raise TrainlabError(
                    f"store {self.root}: no store.sqlite there; run `trainlab run` first or pass --store DIR"
                )
            self._db = connect(self.path, read_only=True)
            migrate.check_readable(self._db, self.path)
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # a nameless file of this process's own: a shared probe name let one `trainlab run` remove the
            # probe of another opening the same new store, which then said the store was not writable
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as err:
            if is_disk_full(err, self.root):
                raise disk_full(self.root) from None
            raise TrainlabError(f"store {self.root}: not writable ({err.strerror}); pass --store DIR") from None
        self._db = connect(self.path)
        with self._full_disk_reported():
            self._db.execute("PRAGMA journal_mode=WAL")
        migrate.refuse_newer(self._db, self.path)
        migrate.back_up(self._db, self.path)
        with self._transaction() as db:  # one transaction: two processes opening a new store at once
            for statement in filter(str.strip, SCHEMA.split(";")):
                db.execute(statement)
            present = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            for column, declaration in ADDED_RUN_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {declaration}")
            with phase(f"store {self.root}: upgrading to format {migrate.FORMAT} (a copy of the old file is kept)"):
                migrate.upgrade(db)
            db.execute(f"PRAGMA user_version = {migrate.FORMAT}")

    @property
    def path(self) -> Path:
        return self.root / "store.sqlite"

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._full_disk_reported(), immediate(self._db) as db:
            yield db

    @contextmanager
    def _full_disk_reported(self) -> Iterator[None]:
        """SQLite's 'database or disk is full' becomes the one-line disk-full error (nothing committed)."""
        try:
            yield
        except sqlite3.OperationalError as err:
            if "disk is full" not in str(err):
                raise
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise disk_full(self.path) from None

    def run_dir(self, run_id: str) -> Path:
        if not RUN_ID.fullmatch(run_id):
            raise TrainlabError(f"run {run_id!r}: not a run id (hexadecimal hash)")
        path = self.root / "runs" / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- writes -----------------------------------------------------------------------------------

    def save_study(self, name: str, spec: dict[str, Any], members: Iterable[dict[str, Any]]) -> None:
        """Record the study's spec and which run is each (experiment, seed) in it; latest plan wins."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO studies VALUES (?, ?, ?)", (name, json.dumps(spec), time.time()))
            db.executemany(
                "INSERT OR REPLACE INTO study_runs VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (name, m["experiment"], m["seed"], m["run_id"], m["label"], json.dumps(m["changes"]))
                    for m in members
                ],
            )

    def start_run(
        self,
        run_id: str,
        config: dict[str, Any],
        main_metric: str,
        params: dict[str, int],
        device: str,
        resumed_from_epoch: int,
        facts: dict[str, Any],
        parent_id: str | None,
        relation: str | None,
    ) -> None:
        """Create the run's row if new; drop rows written after the checkpoint it resumes from."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO runs (id, config, status, epochs_done, main_metric, params_total,"
                " params_trainable, params_non_embedding, parent_id, relation, created_at, updated_at)"
                " VALUES (?, ?, 'new', 0, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    json.dumps(config),
                    main_metric,
                    params["total"],
                    params["trainable"],
                    params.get("non_embedding", params["total"]),
                    parent_id,
                    relation,
                    now,
                    now,
                ),
            )
            points.drop(db, run_id, resumed_from_epoch, "test")
            status = "partial" if resumed_from_epoch else "new"
            self._update(db, run_id, {"epochs_done": resumed_from_epoch, "status": status, "device": device})
            self._merge_facts(db, run_id, {**facts, "error": None})  # a new attempt: an earlier failure is history

    def record_epoch(self, run_id: str, rows: Sequence[MetricRow], progress: dict[str, Any]) -> None:
        """Metric rows and the run's new progress, in one transaction."""
        with self._transaction() as db:
            points.append(db, run_id, rows)
            self._update(db, run_id, progress)

    def end_run(self, run_id: str, status: str, rows: Sequence[MetricRow], facts: dict[str, Any]) -> None:
        with self._transaction() as db:
            points.append(db, run_id, rows)
            self._update(db, run_id, {"status": status})
            self._merge_facts(db, run_id, facts)

    def update_facts(self, run_id: str, facts: dict[str, Any]) -> None:
        """Merge measured facts about a run (FLOPs, memory split, parameters per module) into its row."""
        with self._transaction() as db:
            self._merge_facts(db, run_id, facts)

    def add_note(self, run_id: str, text: str) -> None:
        with self._transaction() as db:
            (current,) = db.execute("SELECT facts FROM runs WHERE id = ?", (run_id,)).fetchone()
            self._merge_facts(db, run_id, {"notes": [*json.loads(current).get("notes", []), text]})

    def add_artifact(self, run_id: str, kind: str, path: str, meta: dict[str, Any] | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?)", (run_id, kind, path, json.dumps(meta or {}))
            )

    def log_event(self, run_id: str, line: str) -> None:
        """Append one line to the run's event log (its folder's events.jsonl). Not synced to disk on its
        own: it is a way back should store.sqlite be lost, and SQLite has just synced the same facts."""
        path = self.run_dir(run_id) / EVENT_LOG
        with path.open("a", encoding="utf-8") as log:
            size = log.tell()
            try:
                log.write(line + "\n")
                log.flush()
            except OSError as err:  # no half line is left behind
                log.truncate(size)
                if is_disk_full(err, path):
                    raise disk_full(path) from None
                raise

    @classmethod
    def _merge_facts(cls, db: sqlite3.Connection, run_id: str, facts: dict[str, Any]) -> None:
        if facts:
            (current,) = db.execute("SELECT facts FROM runs WHERE id = ?", (run_id,)).fetchone()
            cls._update(db, run_id, {"facts": json.dumps({**json.loads(current), **facts})})

    @staticmethod
    def _update(db: sqlite3.Connection, run_id: str, fields: dict[str, Any]) -> None:
        fields = {**fields, "updated_at": time.time()}
        assignments = ", ".join(f"{k} = ?" for k in fields)
        db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

    # -- reads ------------------------------------------------------------------------------------

    def run_row(self, run_id: str) -> dict[str, Any] | None:
        cur = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
        row = cur.fetchone()
        return None if row is None else dict(zip([c[0] for c in cur.description], row))

    def children(self, run_id: str) -> list[dict[str, Any]]:
        """The runs that started from this one: id and relation."""
        cur = self._db.execute("SELECT id, relation FROM runs WHERE parent_id = ? ORDER BY created_at", (run_id,))
        return [{"id": i, "relation": r} for i, r in cur]

    def run_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM runs ORDER BY id")]

    def study_spec(self, name: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT spec FROM studies WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def study_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM studies ORDER BY name")]

    def runs(self, study: str | None = None) -> pd.DataFrame:
        """One row per (study, experiment, seed) with run status and the flattened config columns."""
        import pandas as pd  # here, not at the top: a training process never queries runs (0.5 s of its start)

        query = (
            "SELECT s.study, s.experiment, s.seed, s.label, s.changes, r.* FROM study_runs s"
            " JOIN runs r ON r.id = s.run_id"
        )
        params: tuple[Any, ...] = ()
        if study is not None:
            query += " WHERE s.study = ?"
            params = (study,)
        df = pd.read_sql_query(query + " ORDER BY s.study, s.experiment, s.seed", self._db, params=params)
        if df.empty:
            return df
        configs = pd.DataFrame([flatten(json.loads(c)) for c in df["config"]], index=df.index)
        # a config key named like a column of the table (a tracked run's `seed`) is kept as `config.KEY`
        configs = configs.rename(columns={k: f"config.{k}" for k in configs.columns if k in df.columns})
        df["changes"] = df["changes"].map(json.loads)
        return pd.concat([df, configs], axis=1)

    def metrics(self, run_ids: Iterable[str] | None = None, categorical: bool = False) -> pd.DataFrame:
        """Metric rows in long format: run_id, step, epoch, split, name, value, wall_s (each series' rows in
        the order they were recorded). `categorical`: run_id, split and name as pandas categoricals, made from
        the series' own numbering (a report over millions of rows groups by codes instead of hashing strings;
        group with observed=True)."""
        import pandas as pd

        if run_ids is None:
            where, params = "1", ()
        else:
            ids = list(run_ids)
            where, params = f"s.run_id IN ({','.join('?' * len(ids))})", tuple(ids)
        names = {
            i: (rid, split, name)
            for i, rid, split, name in self._db.execute(
                f"SELECT id, run_id, split, name FROM series s WHERE {where}", params
            )
        }
        counts, columns = points.read_columns(self._db, where, params)
        if not counts:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in METRIC_COLUMNS.items()})
        order = list(counts)
        labels = [_labels([names[i][k] for i in order], list(counts.values()), categorical) for k in range(3)]
        frame = {"run_id": labels[0], "step": columns["step"], "epoch": columns["epoch"], "split": labels[1]}
        # copy=False: the columns are fresh and aligned, and copying millions of rows again costs seconds
        return pd.DataFrame(
            {**frame, "name": labels[2], "value": columns["value"], "wall_s": columns["wall_s"]}, copy=False
        )

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        cur = self._db.execute("SELECT kind, path, meta FROM artifacts WHERE run_id = ?", (run_id,))
        return [{"kind": k, "path": p, "meta": json.loads(m)} for k, p, m in cur]

    def series(self, split: str, name: str, run_ids: Sequence[str]) -> dict[str, Series]:
        """Each run's series of one metric (trainlab.store.series), in one range scan per run."""
        if not run_ids:
            return {}
        marks = ",".join("?" * len(run_ids))
        where = f"s.split = ? AND s.name = ? AND s.run_id IN ({marks})"
        owners = dict(self._db.execute(f"SELECT id, run_id FROM series s WHERE {where}", (split, name, *run_ids)))
        out = {}
        for series_id, records in points.read(self._db, where, (split, name, *run_ids)).items():
            epoch = records["epoch"].astype(float)
            keep = last_per_round(np.zeros(len(epoch)), epoch)
            out[owners[series_id]] = Series(
                epoch[keep], records["step"][keep].astype(float), records["wall_s"][keep], records["value"][keep]
            )
        return out

    def metric_names(self, run_id: str, splits: Sequence[str]) -> list[tuple[str, str]]:
        """The (split, name) pairs a run has logged in these splits."""
        marks = ",".join("?" * len(splits))
        return self._db.execute(
            f"SELECT split, name FROM series WHERE run_id = ? AND rows > 0 AND split IN ({marks})", (run_id, *splits)
        ).fetchall()

    def running(self, stale_s: float) -> set[str]:
        """Runs claimed by a holder whose heartbeat is younger than `stale_s`: being trained right now."""
        return set(self.holders(stale_s))

    def holders(self, stale_s: float) -> dict[str, str]:
        """Runs being trained right now (a claim with a heartbeat younger than `stale_s`) -> 'host pid N'."""
        rows = self._db.execute("SELECT key, host, pid, heartbeat FROM claims WHERE key NOT LIKE 'driver:%'")
        return {key: f"{host} pid {pid}" for key, host, pid, beat in rows if holder_alive(host, pid, beat, stale_s)}

    def study_members(self) -> list[tuple[str, str, str, float, dict[str, Any], float]]:
        """Every (study, run) pair: study, run id, status, the run's and the study's last update, the spec."""
        rows = self._db.execute(
            "SELECT s.study, r.id, r.status, r.updated_at, st.spec, st.updated_at FROM study_runs s "
            "JOIN runs r ON r.id = s.run_id JOIN studies st ON st.name = s.study"
        ).fetchall()
        return [
            (study, rid, status, updated, json.loads(spec), planned)
            for study, rid, status, updated, spec, planned in rows
        ]

    def study_configs(self, study: str) -> list[tuple[int, int, str, dict[str, Any]]]:
        """(experiment, seed, run id, config) of every member of a study, in experiment order."""
        rows = self._db.execute(
            "SELECT s.experiment, s.seed, s.run_id, r.config FROM study_runs s JOIN runs r ON r.id = s.run_id "
            "WHERE s.study = ? ORDER BY s.experiment, s.seed",
            (study,),
        ).fetchall()
        return [(e, s, rid, json.loads(config)) for e, s, rid, config in rows]

    def study_plan(self, study: str) -> list[tuple[int, int, str, str]]:
        """(experiment, seed, run id, label) of every run in the study's plan, started or not."""
        return self._db.execute(
            "SELECT experiment, seed, run_id, label FROM study_runs WHERE study = ? ORDER BY experiment, seed",
            (study,),
        ).fetchall()

    def study_stamp(self, study: str) -> tuple[int, float | None, float | None]:
        """What changes whenever a study does: its number of runs, their newest update, its plan's update."""
        return self._db.execute(
            "SELECT COUNT(*), MAX(r.updated_at), MAX(st.updated_at) FROM study_runs s JOIN runs r ON r.id = s.run_id "
            "JOIN studies st ON st.name = s.study WHERE s.study = ?",
            (study,),
        ).fetchone()


def open_store(root: str | os.PathLike[str] = "trainlab-store") -> Store:
    """Open (creating if needed) a store folder; its queries return pandas DataFrames."""
    return Store(root)


def _labels(per_series: list[str], counts: list[int], categorical: bool) -> Any:
    """One label per row: each series' label repeated over its rows, as strings or as a categorical."""
    import pandas as pd

    if not categorical:
        return np.repeat(np.array(per_series, dtype=object), counts)
    codes, uniques = pd.factorize(np.array(per_series, dtype=object))
    return pd.Categorical.from_codes(np.repeat(codes, counts), categories=uniques)
