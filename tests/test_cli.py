"""The command line as a user meets it: clear one-line errors (exit 2), check/run/ls/show/report."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_study


def assert_user_error(result: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trainlab: error: "), result.stderr
    assert pattern in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "fields", "pattern"),
    [
        (["--set", "optim.lrr=0.1"], {}, "--set: optim.lrr: unknown field (did you mean optim.lr?)"),
        (["--set", "optim.lr=-1"], {}, "optim.lr: Input should be greater than 0 (got -1)"),
        (["--set", "train.batch_size=0"], {}, "train.batch_size: Input should be greater than or equal to 1"),
        (["--set", "train.epochs=0"], {}, "train.epochs: Input should be greater than or equal to 1"),
        (["--set", "data.valid_fraction=1.5"], {}, "data.valid_fraction: Input should be less than 1"),
        (["--set", "model.name=resnet9"], {}, "model.name: unknown name 'resnet9'"),
        (["--set", "train.precision=fp16"], {}, "train.precision: Input should be 'fp32' or 'bf16' (got 'fp16')"),
        (["--set", "optim.name=rmsprop"], {}, "valid: adam, adamw, momentum, nesterov, sgd"),
        (["--set", "schedule.name=linear"], {}, "valid: cosine, none, plateau, step, warmup_cosine"),
        (["--set", "data.name=mnistt"], {}, "data.name: unknown name 'mnistt'"),
        (["--set", "nonsense"], {}, "expected KEY=VALUE"),
        (["--only", "9"], {}, "--only: no experiment 9; this study has 1..1"),
        ([], {"seedz": [1]}, "seedz: unknown field (did you mean seeds?)"),
        (["--device", "cuda:7"] if not __import__("torch").cuda.is_available() else ["--device", "tpu"], {}, "--device"),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path: Path, args: list[str], fields: dict, pattern: str) -> None:
    """Every bad input: exit 2, one line on stderr naming the problem, no traceback, no store created."""
    study = write_study(tmp_path, **fields)
    assert_user_error(run_cli("run", str(study), *args), pattern)
    assert not (tmp_path / "store").exists()


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    """A YAML syntax error names file, line and column."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbase:\n  optim: {lr: 0.1\n")
    assert_user_error(run_cli("check", str(bad)), "bad.yaml:4:1: invalid YAML")


def test_unwritable_store_is_reported(tmp_path: Path) -> None:
    """A store path that cannot be created (under a regular file) is a clear error."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    study = write_study(tmp_path)
    assert_user_error(run_cli("run", str(study), "--store", str(blocker / "store")), "not writable")


def test_check_run_ls_show_report_end_to_end(tiny_study: Path, tmp_path: Path) -> None:
    """check shows new runs with parameters; run trains; rerun skips; ls/show/report read the store."""
    check = run_cli("check", str(tiny_study), "--json")
    assert check.returncode == 0, check.stderr
    plan = json.loads(check.stdout)
    assert [p["experiment"] for p in plan] == [1, 2] and {p["status"] for p in plan} == {"new"}
    assert plan[0]["params_total"] == plan[0]["params_trainable"] > 1000

    first = run_cli("run", str(tiny_study), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "2 runs: 2 done" in first.stdout
    t0 = time.perf_counter()
    second = run_cli("run", str(tiny_study))
    assert second.returncode == 0 and "2 runs: 2 skipped" in second.stdout
    assert time.perf_counter() - t0 < 30

    plan = json.loads(run_cli("check", str(tiny_study), "--json").stdout)
    assert {p["status"] for p in plan} == {"done"} and {p["epochs_done"] for p in plan} == {3}

    store = str(tmp_path / "store")
    listed = json.loads(run_cli("ls", "--store", store, "--json").stdout)
    assert sorted(r["experiment"] for r in listed) == [1, 2]
    assert all(r["status"] == "done" and r["epochs_done"] == 3 and r["train_s_per_epoch"] > 0 for r in listed)
    shown = json.loads(run_cli("show", listed[0]["id"][:6], "--store", store, "--json").stdout)
    assert shown["id"] == listed[0]["id"] and len(shown["epochs"]) == 3 and "test/accuracy" in shown["test"]
    assert (Path(shown["folder"]) / "manifest.json").exists()
    manifest = json.loads((Path(shown["folder"]) / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["versions"]["torch"] and manifest["config"]["optim"]["lr"]
    assert manifest["device"] == "cpu" and manifest["device_name"] and manifest["threads"] >= 1
    assert shown["hardware"]["device_name"] == manifest["device_name"]

    out = tmp_path / "report"
    rep = run_cli("report", str(tiny_study), "--out", str(out))
    assert rep.returncode == 0, rep.stderr
    assert {"index.html", "results.md", "results.csv", "results.tex", "curves_epoch.png", "curves_time.pdf"} <= {
        p.name for p in out.iterdir()
    }
    assert "<img" in (out / "index.html").read_text()
    assert f"Measured on {manifest['device_name']} (cpu, {manifest['threads']} threads)." in (out / "resources.md").read_text()
    assert_user_error(run_cli("show", "zzzz", "--store", store), "run zzzz: no run with that id prefix")


def test_report_without_a_store_is_a_clear_error(tiny_study: Path) -> None:
    """Reporting before running says what to do."""
    assert_user_error(run_cli("report", str(tiny_study)), "run `trainlab run` first")


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


def _valid_loss_epochs(db: Path) -> list[int]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT epoch FROM metrics WHERE split='valid' AND name='loss' ORDER BY epoch")
        return [r[0] for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_from_its_last_epoch(tmp_path: Path, sig: signal.Signals) -> None:
    """kill -9 (or Ctrl-C) mid-run, then rerun: training continues after the saved epoch,
    and every epoch appears exactly once in the store."""
    study = write_study(tmp_path)
    epochs = 40
    args = [sys.executable, "-m", "trainlab.cli", "run", str(study), "--quiet", "--set", f"train.epochs={epochs}",
            "--set", "data.n=3000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "store" / "store.sqlite"
    _wait_for_epochs(db, 3, proc)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "rerun the same command to resume" in err and "Traceback" not in err
    with sqlite3.connect(db) as con:
        done_at_kill = con.execute("SELECT epochs_done FROM runs").fetchone()[0]
    assert 3 <= done_at_kill < epochs

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    folder = next((tmp_path / "store" / "runs").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert done_at_kill - 1 <= manifest["resumed_from_epoch"] <= done_at_kill
    assert _valid_loss_epochs(db) == list(range(1, epochs + 1))
