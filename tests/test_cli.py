"""The command line as a user meets it: clear one-line errors (exit 2), check/run/ls/show/report."""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli, run_cli_process, write_study
from tests.trained import Trained
from trainlab import cli


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
        (["--set", "schedule.name=linear"], {}, "valid: cosine, noam, none, plateau, step, warmup_cosine"),
        (["--set", "data.name=mnistt"], {}, "data.name: unknown name 'mnistt'"),
        (["--set", "nonsense"], {}, "expected KEY=VALUE"),
        (["--only", "9"], {}, "--only: no experiment 9; this study has 1..1"),
        ([], {"seedz": [1]}, "seedz: unknown field (did you mean seeds?)"),
        (
            ["--device", "cuda:7"] if not __import__("torch").cuda.is_available() else ["--device", "tpu"],
            {},
            "--device",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(
    tmp_path: Path, args: list[str], fields: dict, pattern: str
) -> None:
    """Every bad input: exit 2, one line on stderr naming the problem, no traceback, no store created."""
    study = write_study(tmp_path, **fields)
    assert_user_error(run_cli("run", str(study), *args), pattern)
    assert not (tmp_path / "store").exists()


def test_unwritable_store_is_reported(tmp_path: Path) -> None:
    """A store path that cannot be created (under a regular file) is a clear error."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    study = write_study(tmp_path)
    assert_user_error(run_cli("run", str(study), "--store", str(blocker / "store")), "not writable")


@pytest.mark.e2e  # the installed command, in its own interpreter
def test_the_installed_command_runs_then_skips(tiny_study: Path) -> None:
    """check shows new runs with parameters; run trains (the installed command, in its own interpreter);
    rerun skips, in seconds."""
    check = run_cli("check", str(tiny_study), "--json")
    assert check.returncode == 0, check.stderr
    plan = json.loads(check.stdout)
    assert [p["experiment"] for p in plan] == [1, 2] and {p["status"] for p in plan} == {"new"}
    assert plan[0]["params_total"] == plan[0]["params_trainable"] > 1000

    first = run_cli_process("run", str(tiny_study), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "2 runs: 2 done" in first.stdout
    t0 = time.perf_counter()
    second = run_cli("run", str(tiny_study))
    assert second.returncode == 0 and "2 runs: 2 skipped" in second.stdout
    assert time.perf_counter() - t0 < 30


def test_check_run_ls_show_report_read_the_store(trained: Callable[[str], Trained], tmp_path: Path) -> None:
    """On a trained study: check says done, run skips everything, ls/show/report read the store."""
    study = trained("train").copy(tmp_path / "copy")
    plan = json.loads(run_cli("check", str(study), "--json").stdout)
    assert len(plan) == 4 and {p["status"] for p in plan} == {"done"} and {p["epochs_done"] for p in plan} == {3}
    again = run_cli("run", str(study))
    assert again.returncode == 0 and "4 runs: 4 skipped" in again.stdout

    store = str(tmp_path / "copy" / "store")
    listed = json.loads(run_cli("ls", "--store", store, "--json").stdout)
    assert sorted(r["experiment"] for r in listed) == [1, 1, 2, 2]
    assert all(r["status"] == "done" and r["epochs_done"] == 3 and r["train_s_per_epoch"] > 0 for r in listed)
    shown = json.loads(run_cli("show", listed[0]["id"][:6], "--store", store, "--json").stdout)
    assert shown["id"] == listed[0]["id"] and len(shown["epochs"]) == 3 and "test/accuracy" in shown["test"]
    plain = run_cli("show", listed[0]["id"][:6], "--store", store).stdout
    assert "…" not in plain and "seconds" in plain  # headers folded onto two lines, never cut into look-alikes
    assert (Path(shown["folder"]) / "manifest.json").exists()
    manifest = json.loads((Path(shown["folder"]) / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["versions"]["torch"] and manifest["config"]["optim"]["lr"]
    assert manifest["device"] == "cpu" and manifest["device_name"] and manifest["threads"] >= 1
    assert shown["hardware"]["device_name"] == manifest["device_name"]
    assert_user_error(run_cli("show", "zzzz", "--store", store), "run zzzz: no run with that id prefix")

    out = tmp_path / "copy" / "report"  # the session wrote it with `trainlab report STUDY --out DIR`
    assert {
        "index.html",
        "results.md",
        "results.csv",
        "results.tex",
        "curves_epoch.png",
        "curves_seconds.pdf",
        "curves_flops.png",
    } <= {p.name for p in out.iterdir()}
    assert "<img" in (out / "index.html").read_text()
    assert (
        f"Measured on {manifest['device_name']} (cpu, {manifest['threads']} threads)."
        in (out / "resources.md").read_text()
    )
    _a_live_claim_is_listed_as_running(store, listed[0]["id"])


def test_report_without_a_store_is_a_clear_error(tiny_study: Path) -> None:
    """Reporting before running says what to do."""
    assert_user_error(run_cli("report", str(tiny_study)), "run `trainlab run` first")


def test_the_command_freezes_the_collector_then_exits_with_mains_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed `trainlab` is cli.entry: main(), then gc.freeze(), so that CPython's shutdown skips its
    full collections; main() itself leaves the collector alone for callers that go on."""
    (command,) = entry_points(group="console_scripts", name="trainlab")
    assert command.value == "trainlab.cli:entry"
    calls: list[str] = []
    monkeypatch.setattr(cli, "main", lambda: calls.append("main") or 2)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    with pytest.raises(SystemExit) as exited:
        cli.entry()
    assert exited.value.code == 2 and calls == ["main", "freeze"]


def _a_live_claim_is_listed_as_running(store: str, run_id: str) -> None:
    """A run another process is training (a live claim on it) is `running` in ls, with its holder; a done one
    stays done."""
    from trainlab.store import Claims, open_store

    db = open_store(store)
    db.start_run(run_id, {}, "accuracy", {"total": 1, "trainable": 1}, "cpu", 2, {}, None, None)  # resumed
    db.close()
    claims = Claims(Path(store) / "store.sqlite")
    try:
        assert claims.take(run_id).granted
        listed = {r["id"]: r for r in json.loads(run_cli("ls", "--store", store, "--json").stdout)}
        table = run_cli("ls", "--store", store).stdout
    finally:
        claims.close()
    assert listed[run_id]["status"] == "running" and f"pid {os.getpid()}" in listed[run_id]["held_by"]
    assert "running" in table and "held_by" in table
    assert {r["status"] for i, r in listed.items() if i != run_id} == {"done"}
