"""The SQLite store through its one writer: round trips, rewinding to a checkpoint, atomic epochs,
unwritable folders, older stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli
from tests.trained import Trained
from trainlab.errors import TrainlabError
from trainlab.store import Store, StoreWriter
from trainlab.store.events import EpochEnded, RunEnded, RunStarted, StudyPlanned

CONFIG = {"optim": {"name": "sgd", "lr": 0.1}, "train": {"epochs": 3}}


def started(resumed_from_epoch: int = 0) -> RunStarted:
    return RunStarted("a1a1a1", CONFIG, "accuracy", {"total": 10, "trainable": 8}, "cpu", resumed_from_epoch)


def make(tmp_path: Path) -> tuple[Store, StoreWriter]:
    store = Store(tmp_path / "s")
    write = StoreWriter(store)
    write(started())
    write(
        StudyPlanned(
            "st", {"name": "st"}, ({"experiment": 1, "seed": 0, "run_id": "a1a1a1", "label": "base", "changes": {}},)
        )
    )
    return store, write


def test_round_trip_runs_and_metrics(tmp_path: Path) -> None:
    """What is written comes back: flattened config columns, long-format metrics."""
    store, write = make(tmp_path)
    write(
        EpochEnded(
            "a1a1a1",
            ((5, 1, "valid", "loss", 0.5, 1.25), (5, 1, "valid", "accuracy", 0.8, 1.25)),
            {"status": "partial", "epochs_done": 1, "best_value": 0.8, "best_epoch": 1},
        )
    )
    runs = store.runs("st")
    assert runs.loc[0, "optim.lr"] == 0.1 and runs.loc[0, "status"] == "partial" and runs.loc[0, "params_total"] == 10
    m = store.metrics(["a1a1a1"])
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
        write(EpochEnded("a1a1a1", ((epoch, epoch, "valid", "loss", 1 / epoch, epoch),), {"epochs_done": epoch}))
    write(RunEnded("a1a1a1", "done", ((3, 3, "test", "loss", 0.1, 3),)))
    write(started(resumed_from_epoch=2))
    m = store.metrics(["a1a1a1"])
    assert sorted(m["epoch"]) == [1, 2] and "test" not in set(m["split"])
    row = store.run_row("a1a1a1")
    assert row["epochs_done"] == 2 and row["status"] == "partial"


def test_a_failed_epoch_write_leaves_nothing(tmp_path: Path) -> None:
    """An error inside an epoch's transaction rolls back every row of it."""
    store, write = make(tmp_path)
    bad = ((1, 1, "valid", "loss", 0.5, 1.0), (1, 1, "valid", "accuracy", "half", 1.0))  # the loss is written first
    with pytest.raises(ValueError):
        write(EpochEnded("a1a1a1", bad, {"epochs_done": 1}))  # type: ignore[arg-type]
    assert store.metrics(["a1a1a1"]).empty and store.run_row("a1a1a1")["epochs_done"] == 0


def test_unwritable_root_is_a_user_error(tmp_path: Path) -> None:
    """A store under a regular file cannot be created; the message says so."""
    (tmp_path / "f").write_text("")
    with pytest.raises(TrainlabError, match="not writable"):
        Store(tmp_path / "f" / "store")


def test_opening_a_new_store_does_not_race_another_opener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `trainlab run` opening one new store at once: neither's write check can be undone by the other
    (CI: one said 'not writable (No such file or directory)' when the other removed the probe file both wrote
    under one name). Here every file written in the folder is removed at once, as the other opener's clean-up
    would; the store opens, and its check leaves no file behind."""
    root = tmp_path / "store"
    real_write_bytes = Path.write_bytes

    def written_then_removed_by_the_other(path: Path, data: bytes) -> int:
        count = real_write_bytes(path, data)
        if path.parent == root:
            path.unlink()
        return count

    monkeypatch.setattr(Path, "write_bytes", written_then_removed_by_the_other)
    Store(root).close()
    assert [p.name for p in root.iterdir() if not p.name.startswith("store.sqlite")] == []


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


def _damaged_copy(trained: Callable[[str], Trained], folder: Path, cut: int) -> Path:
    """A copy of the session's train study whose store.sqlite (its WAL folded in) is cut to `cut` bytes."""
    study = trained("train").copy(folder)
    db = folder / "store" / "store.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as f:
        f.truncate(cut)
    return study


def test_a_damaged_store_is_one_line_in_every_command(trained: Callable[[str], Trained], tmp_path: Path) -> None:
    """store.sqlite cut short (once a sqlite3.DatabaseError traceback in ls, show, report, check and run):
    one line naming the file and the ways out, exit 2."""
    study = _damaged_copy(trained, tmp_path, 40_000)
    store = str(tmp_path / "store")
    for args in (
        ["ls", "--store", store],
        ["show", "94668ab205d0", "--store", store],
        ["check", str(study)],
        ["report", str(study), "--out", str(tmp_path / "report")],
        ["run", str(study)],
        ["run", str(study), "--workers", "2"],
    ):
        result = run_cli(*args)
        assert_user_error(result, "store.sqlite: the store's database is damaged (database disk image is malformed)")
        assert ".recover" in result.stderr, args


def test_the_dashboard_says_a_store_is_damaged(trained: Callable[[str], Trained], tmp_path: Path) -> None:
    """503 with the same sentence (once a 500 on every route)."""
    pytest.importorskip("fastapi", reason="the dashboard needs FastAPI (pip install -e '.[serve]')")
    from fastapi.testclient import TestClient

    from trainlab.serve.app import create_app

    _damaged_copy(trained, tmp_path, 40_000)
    answer = TestClient(create_app(tmp_path / "store")).get("/api/studies")
    assert answer.status_code == 503 and "the store's database is damaged" in answer.json()["error"]


def _emptied_copy(trained: Callable[[str], Trained], folder: Path) -> tuple[Path, dict]:
    """A copy of the session's train study, and its valid losses, after store.sqlite became a zero-byte file."""
    study = trained("train").copy(folder)
    store = folder / "store"
    losses = _valid_losses(store)
    (store / "store.sqlite").write_bytes(b"")
    for extra in ("store.sqlite-wal", "store.sqlite-shm"):
        (store / extra).unlink(missing_ok=True)
    return study, losses


def _valid_losses(store: Path) -> dict:
    m = Store(store).metrics()
    return {(r.run_id, r.epoch): r.value for r in m[(m["split"] == "valid") & (m["name"] == "loss")].itertuples()}


def test_an_emptied_store_is_rebuilt_from_the_runs_event_logs(
    trained: Callable[[str], Trained], tmp_path: Path
) -> None:
    """store.sqlite emptied while the run folders stay (once: "4 runs: 4 done", exit 0, and no metrics):
    `run` says so, rebuilds each run's records from its events.jsonl, and skips them, metrics intact."""
    study, losses = _emptied_copy(trained, tmp_path)
    result = run_cli("run", str(study))
    assert result.returncode == 0, result.stderr
    assert "had no record of 4 run(s) with work in their folders; their records were rebuilt" in result.stderr
    assert "4 runs: 4 skipped" in result.stdout
    assert _valid_losses(tmp_path / "store") == losses


def test_lost_runs_without_a_log_stop_the_study_or_train_again(
    trained: Callable[[str], Trained], tmp_path: Path
) -> None:
    """Without event logs (stores made before them) the records cannot be rebuilt: one line with the two
    ways out; --retrain-lost keeps the old folders as runs/<id>.lost and trains the runs again."""
    study, _ = _emptied_copy(trained, tmp_path)
    for log in (tmp_path / "store" / "runs").glob("*/events.jsonl"):
        log.unlink()
    refused = run_cli("run", str(study))
    assert_user_error(refused, "4 run(s) (")
    assert (
        "no events.jsonl to rebuild one from; restore store.sqlite from a copy, or rerun with --retrain-lost"
        in refused.stderr
    )
    again = run_cli("run", str(study), "--retrain-lost")
    assert again.returncode == 0 and "4 runs: 4 done" in again.stdout, again.stderr
    assert len(list((tmp_path / "store" / "runs").glob("*.lost"))) == 4
    assert len(_valid_losses(tmp_path / "store")) == 4 * 3
