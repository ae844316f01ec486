"""`trainlab.track`: a plain PyTorch loop recorded into a store is an ordinary run of it: listed, grouped with
seed bands in the report and the dashboard, resumed, failed with its traceback, refused in one line when what
it logs is not a number or goes back in steps; killed, it leaves the store consistent and the run resumable."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import trainlab
from tests.conftest import run_cli
from trainlab.errors import TrainlabError
from trainlab.store import open_store


def train(store: Path, lr: float, seed: int, rounds: int = 3, resume: bool = False, fail_at: int | None = None) -> str:
    """A script's loop, as a user writes it, with the three tracking lines."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (300,), generator=g)
    x = torch.randn(3, 8, generator=g)[y] * 2 + torch.randn(300, 8, generator=g)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with trainlab.track(
        "plain", config={"lr": lr, "seed": seed}, store=store, main_metric="accuracy", resume=resume
    ) as run:
        for _ in range(rounds):
            for i in range(0, 240, 40):
                loss = nn.functional.cross_entropy(model(x[i : i + 40]), y[i : i + 40])
                opt.zero_grad()
                loss.backward()
                opt.step()
                run.log({"loss": loss})
                if fail_at is not None and run.step == fail_at:
                    raise RuntimeError("the script's own bug")
            with torch.no_grad():
                out = model(x[240:])
            run.log_epoch(
                {
                    "loss": nn.functional.cross_entropy(out, y[240:]),
                    "accuracy": (out.argmax(1) == y[240:]).float().mean(),
                }
            )
        return run.id


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two learning rates x three seeds, recorded by the plain loop."""
    store = tmp_path_factory.mktemp("tracked") / "store"
    for lr in (0.05, 0.5):
        for seed in (0, 1, 2):
            train(store, lr, seed)
    return store


def test_tracked_runs_are_runs_of_the_store(tracked: Path) -> None:
    """One experiment per learning rate, its seeds as seeds, labelled by what varies; every round's rows,
    the best round by valid accuracy, done."""
    runs = open_store(tracked).runs("plain")
    assert sorted(runs["experiment"]) == [1, 1, 1, 2, 2, 2] and sorted(runs["seed"]) == [0, 0, 1, 1, 2, 2]
    assert set(runs["label"]) == {"lr 0.05", "lr 0.5"} and set(runs["status"]) == {"done"}
    assert (runs["epochs_done"] == 3).all() and runs["best_epoch"].notna().all()
    metrics = open_store(tracked).metrics(runs["id"].iloc[:1])
    assert len(metrics[(metrics["split"] == "train") & (metrics["name"] == "loss")]) == 3 * 6
    assert sorted(metrics[metrics["split"] == "valid"]["epoch"].unique()) == [1, 2, 3]


def test_the_report_and_the_dashboard_group_them_with_seed_bands(tracked: Path, tmp_path: Path) -> None:
    """`trainlab report plain --store DIR` (a study without a file): results with intervals over 3 seeds; the
    dashboard's curves grouped by lr: two bands of n = 3."""
    result = run_cli("report", "plain", "--store", str(tracked), "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    assert "(n=3)" in (tmp_path / "report" / "results.md").read_text()
    pytest.importorskip("fastapi", reason="the dashboard needs FastAPI (pip install -e '.[serve]')")
    from fastapi.testclient import TestClient

    from trainlab.serve.app import create_app

    body = (
        TestClient(create_app(tracked)).get("/api/study/plain/curves", params={"metric": "valid/accuracy"}).json()
    )  # a line per configuration (a learning rate), the band over its three seeds
    assert sorted(t["name"] for t in body["traces"]) == ["1: lr 0.05", "2: lr 0.5"]
    assert {t["n"] for t in body["traces"]} == {3}


def test_the_same_config_is_the_same_run_and_resumes(tmp_path: Path) -> None:
    """Tracked again without resume: refused in one sentence; with resume=True: rounds and steps go on."""
    first = train(tmp_path / "store", 0.1, 0, rounds=2)
    with pytest.raises(TrainlabError, match=rf"run {first} \(this config\) is already in .*pass resume=True"):
        train(tmp_path / "store", 0.1, 0)
    assert train(tmp_path / "store", 0.1, 0, rounds=2, resume=True) == first
    row = open_store(tmp_path / "store").run_row(first)
    assert row["epochs_done"] == 4 and row["status"] == "done"
    steps = open_store(tmp_path / "store").metrics([first]).query("split == 'train' and name == 'loss'")["step"]
    assert list(steps) == list(range(1, 25))


def test_an_exception_in_the_block_fails_the_run_with_its_traceback(tmp_path: Path) -> None:
    """The script's error is stored with the run (status failed) and raised on."""
    with pytest.raises(RuntimeError, match="the script's own bug"):
        train(tmp_path / "store", 0.1, 0, fail_at=4)
    (run,) = open_store(tmp_path / "store").runs("plain").itertuples()
    assert run.status == "failed" and "the script's own bug" in json.loads(run.facts)["error"]
    assert len(open_store(tmp_path / "store").metrics([run.id])) == 4  # what was logged before is kept


def test_what_cannot_be_logged_is_one_line(tmp_path: Path) -> None:
    """A value that is not a number, a step going back, a run opened twice: TrainlabError naming it."""
    with trainlab.track("bad", config={"a": 1}, store=tmp_path / "store") as run:
        with pytest.raises(TrainlabError, match=r"run.log: train/loss: 'high' is not a number"):
            run.log({"loss": "high"})
        run.log({"loss": 1.0}, step=10)
        with pytest.raises(TrainlabError, match=r"run.log: train/loss: step 5 comes after step 10; steps only go on"):
            run.log({"loss": 2.0}, step=5)
        with (
            pytest.raises(TrainlabError, match="is being written by"),
            trainlab.track("bad", config={"a": 1}, store=tmp_path / "store"),
        ):
            pass
        run.log({"loss": math.inf, "other": math.nan})
    m = open_store(tmp_path / "store").metrics()
    assert math.isinf(m.set_index("name").loc["loss"]["value"].max()) and m.set_index("name").loc["other"]["value"] != 0


SCRIPT = """
import sys, time
import trainlab

with trainlab.track("killed", config={"lr": 0.1}, store=sys.argv[1], resume=len(sys.argv) > 2) as run:
    for r in range(run.epoch, 6):
        for s in range(20):
            run.log({"loss": 1.0 / (1 + r * 20 + s)})
        run.log_epoch({"loss": 1.0 / (1 + r)})
        time.sleep(0.3)
"""


@pytest.mark.e2e  # a process killed with SIGKILL
def test_a_killed_script_leaves_a_consistent_store_and_a_resumable_run(tmp_path: Path) -> None:
    """kill -9 after two rounds: the store holds whole rounds only, the run is partial (no live holder), `ls`
    reads it; the same script with resume=True continues from the next round to the end."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, str(script), str(store)])
    deadline = time.time() + 60
    while time.time() < deadline:
        row = open_store(store).run_row(next(iter(open_store(store).run_ids()), "000000")) if store.exists() else None
        if row and row["epochs_done"] >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (run_id,) = open_store(store).run_ids()
    row = open_store(store).run_row(run_id)
    assert row["status"] == "partial" and row["epochs_done"] >= 2
    listed = json.loads(run_cli("ls", "--store", str(store), "--json").stdout)
    assert listed[0]["status"] == "partial"
    subprocess.run([sys.executable, str(script), str(store), "resume"], check=True, timeout=120)
    row = open_store(store).run_row(run_id)
    assert row["status"] == "done" and row["epochs_done"] == 6
    valid = open_store(store).metrics([run_id]).query("split == 'valid'")
    assert sorted(valid["epoch"]) == [1, 2, 3, 4, 5, 6]
