"""examples/own-code, installed as a user installs it (`pip install -e examples/own-code`, part of the README's
test command): its model, dataset and task are found through its entry points and run a grid x seeds study, a
lottery level and landscapes with no edit to trainlab, reported with seed bands; its plain PyTorch script,
with the tracking lines, records 2 learning rates x 3 seeds that the report and the dashboard group with
bands, and a kill -9 midway leaves a run that the same command continues."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli
from trainlab.store import open_store

pytestmark = pytest.mark.e2e
pytest.importorskip("ownlab", reason="the example package is not installed: pip install -e examples/own-code")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own-code"


def test_the_packages_study_lottery_level_and_landscapes_run_and_report(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    check = run_cli("check", str(EXAMPLE / "studies" / "rings.yaml"), "--store", store)
    assert "plugin model ring_mlp: entry point of ownlab" in check.stdout, check.stdout + check.stderr
    for study in ("rings", "rings-lottery", "rings-landscape"):
        result = run_cli("run", str(EXAMPLE / "studies" / f"{study}.yaml"), "--store", store)
        assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "report"
    assert (
        run_cli("report", str(EXAMPLE / "studies" / "rings.yaml"), "--store", store, "--out", str(out)).returncode == 0
    )
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and results.to_string().count("(n=3)") >= 4  # each setting with its 3 seeds' band
    db = open_store(store)
    lottery = db.runs("rings-lottery")
    pruned = [json.loads(db.run_row(i)["facts"]).get("remaining", {}).get("total") for i in lottery["id"]]
    landscapes = [a for i in db.runs("rings")["id"] for a in db.artifacts(i) if a["kind"] == "landscape"]
    db.close()
    assert sorted(p for p in pruned if p is not None) == [0.5, 0.5]  # the ticket and its random-pruning control
    assert len(landscapes) == 4  # seed 0 of each setting
    for study in ("rings-lottery", "rings-landscape"):
        page = tmp_path / study
        report = run_cli("report", str(EXAMPLE / "studies" / f"{study}.yaml"), "--store", store, "--out", str(page))
        assert report.returncode == 0 and (page / "index.html").exists(), report.stderr


def test_the_plain_scripts_runs_are_grouped_with_seed_bands(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the dashboard needs FastAPI (pip install -e '.[serve]')")
    from fastapi.testclient import TestClient

    from trainlab.serve.app import create_app

    main = runpy.run_path(str(EXAMPLE / "train_plain.py"))["main"]
    store = tmp_path / "store"
    for lr in (0.03, 0.1):
        for seed in (0, 1, 2):
            main(lr, seed, str(store), epochs=3)
    out = tmp_path / "report"
    assert run_cli("report", "rings-plain", "--store", str(store), "--out", str(out)).returncode == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 2 and results.to_string().count("(n=3)") == 2
    db = open_store(store)
    assert set(db.runs("rings-plain")["params_total"]) == {2 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3}
    db.close()
    curves = TestClient(create_app(store)).get(
        "/api/study/rings-plain/curves", params={"metric": "valid/accuracy", "group": "lr"}
    )
    traces = curves.json()["traces"]
    assert len(traces) == 2 and all(t["n"] == 3 and len(t["low"]) == 3 for t in traces)


def test_the_plain_script_killed_midway_is_continued_by_the_same_command(tmp_path: Path) -> None:
    store = tmp_path / "store"
    command = [sys.executable, str(EXAMPLE / "train_plain.py"), "--epochs", "200", "--store", str(store)]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": os.getcwd()}, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _epochs_done(store) < 3:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    killed_at = _epochs_done(store)
    assert 3 <= killed_at < 200
    db = open_store(store)
    (row,) = db.runs("rings-plain").to_dict(orient="records")
    db.close()
    assert row["status"] == "partial"
    subprocess.run(command, check=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})
    db = open_store(store)
    (row,) = db.runs("rings-plain").to_dict(orient="records")
    valid = db.metrics([row["id"]]).query("split == 'valid' and name == 'accuracy'")
    db.close()
    assert row["status"] == "done" and row["epochs_done"] == 200
    assert sorted(valid["epoch"]) == list(range(1, 201))  # every epoch once, none lost, none twice


def _epochs_done(store: Path) -> int:
    if not (store / "store.sqlite").exists():
        return 0
    try:
        db = open_store(store)
    except Exception:  # noqa: BLE001 - the first writer may still be creating it
        return 0
    try:
        runs = db.runs("rings-plain")
        return int(runs["epochs_done"].max()) if len(runs) else 0
    finally:
        db.close()
