"""What a user's runs survive: Ctrl-C, kill -9, a damaged checkpoint, a full disk, two drivers on one
store, unsafe names, grids too large to plan, bad YAML. (Divergence: tests/train/test_loop.py.)"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import assert_user_error, interrupted_after, run_cli, trainlab_command, write_study
from tests.trained import Trained
from trainlab.api import check_study, run_study
from trainlab.errors import TrainlabError
from trainlab.store import Store, open_store
from trainlab.studies.catalog import parse_study


def _valid_loss(db: Path) -> pd.DataFrame:
    """(run, epoch, value) of every valid-loss row, in order: duplicates and gaps show."""
    store = Store(db.parent, read_only=True)
    try:
        m = store.metrics()
    finally:
        store.close()
    m = m[(m["split"] == "valid") & (m["name"] == "loss")]
    return m.sort_values(["run_id", "epoch"], kind="stable")[["run_id", "epoch", "value"]].reset_index(drop=True)


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    """A YAML syntax error names file, line and column."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbase:\n  optim: {lr: 0.1\n")
    assert_user_error(run_cli("check", str(bad)), "bad.yaml:4:1: invalid YAML")


def _wait_for_epochs(db: Path, at_least: int, proc: subprocess.Popen[str], timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as con:
                    row = con.execute("SELECT epochs_done FROM runs").fetchone()
            except sqlite3.OperationalError:
                row = None
            if row and row[0] >= at_least:
                return row[0]
        time.sleep(0.05)
    raise AssertionError("training made no progress")


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_from_its_last_epoch(tmp_path: Path, sig: signal.Signals) -> None:
    """kill -9 (or Ctrl-C) mid-run, then rerun: training continues after the saved epoch (the dead
    process's claim is taken over), and every epoch appears exactly once in the store."""
    study = write_study(tmp_path)
    epochs = 40
    args = trainlab_command("run", str(study), "--quiet", "--set", f"train.epochs={epochs}", "--set", "data.n=3000")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "store" / "store.sqlite"
    _wait_for_epochs(db, 3, proc)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "rerun the same command to resume" in err and "Traceback" not in err
    with sqlite3.connect(db) as con:
        done_at_kill = con.execute("SELECT epochs_done FROM runs").fetchone()[0]
    assert 3 <= done_at_kill < epochs

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    folder = next((tmp_path / "store" / "runs").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert done_at_kill - 1 <= manifest["resumed_from_epoch"] <= done_at_kill
    assert _valid_loss(db)["epoch"].tolist() == list(range(1, epochs + 1))


def _interrupted_after(folder: Path, epoch: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny study (4 epochs) stopped after `epoch`: last.pt holds it, last.prev.pt the one before."""
    with interrupted_after(epoch, monkeypatch), pytest.raises(KeyboardInterrupt):
        run_study(write_study(folder), {"train.epochs": 4})
    return next((folder / "store" / "runs").iterdir())


@pytest.mark.parametrize("damaged", [["last.pt"], ["last.pt", "last.prev.pt"]])
def test_a_damaged_checkpoint_costs_an_epoch_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damaged: list[str]
) -> None:
    """A truncated last.pt: the rerun warns in one line and resumes from last.prev.pt (epoch 1), or, with
    both damaged, restarts from scratch; either way it ends with the metrics of a run never stopped and
    every epoch once."""
    (tmp_path / "once").mkdir()
    run_study(write_study(tmp_path / "once"), {"train.epochs": 4})
    (tmp_path / "twice").mkdir()
    folder = _interrupted_after(tmp_path / "twice", 2, monkeypatch)
    for name in damaged:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
    rerun = run_cli("run", str(tmp_path / "twice" / "study.yaml"), "--set", "train.epochs=4")
    assert rerun.returncode == 0 and "Traceback" not in rerun.stderr + rerun.stdout, rerun.stderr
    then = "restarted the run from scratch" if len(damaged) == 2 else "resumed from the previous checkpoint (epoch 1)"
    warning = [line for line in rerun.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == len(damaged) and "last.pt: unreadable checkpoint" in warning[0] and then in warning[-1]
    once, twice = (
        _valid_loss(tmp_path / "once" / "store" / "store.sqlite"),
        _valid_loss(folder.parents[1] / "store.sqlite"),
    )
    pd.testing.assert_frame_equal(once, twice)
    assert open_store(folder.parents[1]).run_row(folder.name)["status"] == "done"


def _mount_tmpfs(folder: Path, size: str) -> None:
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"needs root to mount a small tmpfs ({mounted.stderr.decode().strip()})")


@pytest.mark.e2e
def test_a_full_disk_is_one_line_and_the_store_continues_on_a_bigger_one(tmp_path: Path) -> None:
    """A 400 kB store fills up mid-run: exit 2, one line naming the file and the space; nothing half
    written is left; once the disk has room, the same command finishes with every epoch stored once."""
    store = tmp_path / "store"
    _mount_tmpfs(store, "400k")
    try:
        args = ["run", str(write_study(tmp_path)), "--quiet", "--set", "data.n=3000", "--set", "train.epochs=20"]
        full = run_cli(*args)
        assert_user_error(full, f"disk full: cannot write {store}/")
        assert "free" in full.stderr and "rerun the same command to continue" in full.stderr
        assert not [p for p in store.rglob("*") if p.name.endswith((".tmp", ".next.pt"))]
        subprocess.run(["mount", "-o", "remount,size=50m", str(store)], check=True)
        again = run_cli(*args)
        assert again.returncode == 0, again.stderr
        assert _valid_loss(store / "store.sqlite")["epoch"].tolist() == list(range(1, 21))
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


def _read_only_view(folder: Path, view: Path) -> None:
    """`view` shows `folder` through a read-only bind mount (root only; skipped otherwise)."""
    view.mkdir()
    for command in (["mount", "--bind", str(folder), str(view)], ["mount", "-o", "remount,ro,bind", str(view)]):
        done = subprocess.run(command, capture_output=True)
        if done.returncode:
            subprocess.run(["umount", str(view)], capture_output=True)
            pytest.skip(f"needs root for a read-only bind mount ({done.stderr.decode().strip()})")


@pytest.mark.e2e  # a mount
def test_a_store_on_a_read_only_medium_can_be_read(trained: Callable[[str], Trained], tmp_path: Path) -> None:
    """A finished store copied to a read-only medium (its WAL folded in, no -shm file): ls, show, check,
    report and the dashboard read it (once "not writable", and 500 on every dashboard route); run says in
    one line that it cannot write there."""
    study = trained("train").copy(tmp_path / "copy")
    db = tmp_path / "copy" / "store" / "store.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in ("store.sqlite-wal", "store.sqlite-shm"):
        (db.parent / extra).unlink(missing_ok=True)
    view = tmp_path / "ro"
    _read_only_view(db.parent, view)
    try:
        listed = run_cli("ls", "--store", str(view), "--json")
        assert listed.returncode == 0, listed.stderr
        rid = json.loads(listed.stdout)[0]["id"]
        assert run_cli("show", rid, "--store", str(view)).returncode == 0
        checked = run_cli("check", str(study), "--store", str(view), "--json")
        assert {line["status"] for line in json.loads(checked.stdout)} == {"done"}
        report = run_cli("report", str(study), "--store", str(view), "--out", str(tmp_path / "report"))
        assert report.returncode == 0 and (tmp_path / "report" / "index.html").exists(), report.stderr
        pytest.importorskip("fastapi")
        from fastapi.testclient import TestClient

        from trainlab.serve.app import create_app

        client = TestClient(create_app(view))
        assert client.get("/api/studies").status_code == 200 and client.get(f"/api/run/{rid}").status_code == 200
        assert_user_error(run_cli("run", str(study), "--store", str(view)), "not writable")
        assert not list(view.glob("store.sqlite-*"))  # nothing was made beside it
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


@pytest.mark.e2e
def test_two_drivers_on_one_store_train_each_epoch_once(tmp_path: Path) -> None:
    """`trainlab run` from two terminals at once: each run is trained by one of them, every epoch is
    stored exactly once, and both finish."""
    study = write_study(tmp_path, runs=[{"optim.lr": lr} for lr in (0.1, 0.05, 0.02, 0.01)])
    args = trainlab_command("run", str(study), "--set", "data.n=2000", "--set", "train.epochs=4")
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    rows = _valid_loss(tmp_path / "store" / "store.sqlite")
    assert rows.groupby("run_id")["epoch"].apply(list).tolist() == [list(range(1, 5))] * 4
    assert set(open_store(tmp_path / "store").runs("tiny")["status"]) == {"done"}
    trained = [
        sum("epoch 4/4 done" in line and line.endswith("s training)") for line in err.splitlines()) for _, err in outs
    ]
    print(f"runs trained by each driver: {trained}")
    assert sum(trained) == 4


@pytest.mark.parametrize("name", ["../../somewhere/else", "/etc/x", "a/b", "..", ".hidden", "with space"])
def test_a_study_name_that_is_not_a_slug_is_refused(name: str) -> None:
    """Names become report folders: anything but letters, digits, '.', '_', '-' is refused before any work."""
    with pytest.raises(TrainlabError, match="name: must be letters, digits, '.', '_' or '-'"):
        parse_study({"name": name, "base": {}})


def test_report_refuses_a_name_that_would_leave_its_folder(tmp_path: Path) -> None:
    """The command line says it in one line, for report as for check, and writes nothing."""
    study = write_study(tmp_path, name="../../somewhere/else")
    assert_user_error(run_cli("report", str(study)), "name: must be letters, digits, '.', '_' or '-'")
    assert not (tmp_path / "store").exists() and not list(tmp_path.parent.glob("somewhere"))


def test_a_grid_too_large_to_plan_is_refused_at_once_and_only_still_works(tmp_path: Path) -> None:
    """Six keys of 20 values: check says how many runs (64 million) and the limit, in seconds;
    --only picks experiments of the same grid without expanding it."""
    values = {
        "optim.lr": [0.01 * (i + 1) for i in range(20)],
        "optim.weight_decay": [0.001 * i for i in range(20)],
        "optim.momentum": [0.04 * i for i in range(20)],
        "optim.eps": [1e-8 * (i + 1) for i in range(20)],
        "schedule.factor": [0.04 * (i + 1) for i in range(20)],
        "schedule.patience": list(range(20)),
    }
    study = write_study(tmp_path, grid=values)
    t0 = time.perf_counter()
    assert_user_error(run_cli("check", str(study)), "grid: 64,000,000 runs (1 run entries × 20 optim.lr × 20")
    assert time.perf_counter() - t0 < 30
    only = run_cli("check", str(study), "--only", "1,64000000", "--json")
    assert only.returncode == 0, only.stderr
    first, last = json.loads(only.stdout)
    assert (first["experiment"], last["experiment"]) == (1, 64_000_000)
    assert first["changes"] == {
        "optim.lr": 0.01,
        "optim.momentum": 0.0,
        "schedule.factor": 0.04,
        "schedule.patience": 0,
    }  # the first values of the other keys are their defaults
    assert last["changes"]["optim.lr"] == 0.2 and last["changes"]["schedule.patience"] == 19
    with pytest.raises(TrainlabError, match="--only: no experiment 64000001; this study has 1..64000000"):
        check_study(study, only=[64_000_001])


def test_check_of_a_plan_within_the_limit_is_not_refused(tmp_path: Path) -> None:
    """The limit is about the runs planned, seeds included: 2 × 3 experiments × 2 seeds is fine."""
    study = write_study(tmp_path, runs=[{}, {"optim.name": "adam"}], grid={"optim.lr": [0.1, 0.2, 0.3]}, seeds=[0, 1])
    result = run_cli("check", str(study), "--json")
    assert result.returncode == 0 and len(json.loads(result.stdout)) == 12
