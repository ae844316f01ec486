"""The SQLite store through its one writer: round trips, rewinding to a checkpoint, atomic epochs,
unwritable folders, older stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trainlab.errors import TrainlabError
from trainlab.store import Store, StoreWriter
from trainlab.store.events import EpochEnded, RunEnded, RunStarted, StudyPlanned

CONFIG = {"optim": {"name": "sgd", "lr": 0.1}, "train": {"epochs": 3}}


def started(resumed_from_epoch: int = 0) -> RunStarted:
    return RunStarted("r1", CONFIG, "accuracy", {"total": 10, "trainable": 8}, "cpu", resumed_from_epoch)


def make(tmp_path: Path) -> tuple[Store, StoreWriter]:
    store = Store(tmp_path / "s")
    write = StoreWriter(store)
    write(started())
    write(
        StudyPlanned(
            "st", {"name": "st"}, ({"experiment": 1, "seed": 0, "run_id": "r1", "label": "base", "changes": {}},)
        )
    )
    return store, write


def test_round_trip_runs_and_metrics(tmp_path: Path) -> None:
    """What is written comes back: flattened config columns, long-format metrics."""
    store, write = make(tmp_path)
    write(
        EpochEnded(
            "r1",
            ((5, 1, "valid", "loss", 0.5, 1.25), (5, 1, "valid", "accuracy", 0.8, 1.25)),
            {"status": "partial", "epochs_done": 1, "best_value": 0.8, "best_epoch": 1},
        )
    )
    runs = store.runs("st")
    assert runs.loc[0, "optim.lr"] == 0.1 and runs.loc[0, "status"] == "partial" and runs.loc[0, "params_total"] == 10
    m = store.metrics(["r1"])
    assert m.set_index("name").loc["loss", ["step", "epoch", "split", "value", "wall_s"]].tolist() == [
        5,
        1,
        "valid",
        0.5,
        1.25,
    ]
    assert store.study_spec("st") == {"name": "st"} and store.study_names() == ["st"]


def test_rewind_drops_rows_after_the_checkpoint(tmp_path: Path) -> None:
    """Rows of epochs past the checkpoint and any test rows are removed; progress is reset."""
    store, write = make(tmp_path)
    for epoch in (1, 2, 3):
        write(EpochEnded("r1", ((epoch, epoch, "valid", "loss", 1 / epoch, epoch),), {"epochs_done": epoch}))
    write(RunEnded("r1", "done", ((3, 3, "test", "loss", 0.1, 3),)))
    write(started(resumed_from_epoch=2))
    m = store.metrics(["r1"])
    assert sorted(m["epoch"]) == [1, 2] and "test" not in set(m["split"])
    row = store.run_row("r1")
    assert row["epochs_done"] == 2 and row["status"] == "partial"


def test_a_failed_epoch_write_leaves_nothing(tmp_path: Path) -> None:
    """An error inside an epoch's transaction rolls back every row of it."""
    store, write = make(tmp_path)
    with pytest.raises(sqlite3.ProgrammingError):
        write(EpochEnded("r1", ((1, 1, "valid", "loss", 0.5, 1.0), (1, 1, "valid")), {"epochs_done": 1}))  # type: ignore[arg-type]
    assert store.metrics(["r1"]).empty and store.run_row("r1")["epochs_done"] == 0


def test_unwritable_root_is_a_user_error(tmp_path: Path) -> None:
    """A store under a regular file cannot be created; the message says so."""
    (tmp_path / "f").write_text("")
    with pytest.raises(TrainlabError, match="not writable"):
        Store(tmp_path / "f" / "store")


def test_an_older_store_gains_the_new_columns(tmp_path: Path) -> None:
    """A store written before `facts` and `params_non_embedding` existed opens and works."""

    root = tmp_path / "old"
    root.mkdir()
    with sqlite3.connect(root / "store.sqlite") as con:
        con.execute(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, epochs_done INTEGER"
            " NOT NULL, main_metric TEXT, best_value REAL, best_epoch INTEGER, diverged_epoch INTEGER, params_total"
            " INTEGER, params_trainable INTEGER, device TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)"
        )
        con.execute(
            "INSERT INTO runs (id, config, status, epochs_done, created_at, updated_at)"
            " VALUES ('r0', '{}', 'done', 3, 0, 0)"
        )
    store = Store(root)
    store.update_facts("r0", {"flops_per_unit": 2.0})
    row = store.run_row("r0")
    assert row["params_non_embedding"] is None and '"flops_per_unit": 2.0' in row["facts"]
