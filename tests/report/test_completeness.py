"""A report of a study run in part says so: `--only` two of its three experiments, one run stopped after its
first epoch: the summary says "3 of 6 runs finished", names the partial run with its epochs and the runs not
started; the partial run is in no table, figure or finding unless --include-partial, which marks it; the spec
on the page is the spec as run (overrides, selection, command line), and each run keeps its command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.conftest import run_cli, write_study
from trainlab.store import StoreWriter, open_store
from trainlab.store.events import RunStarted


def test_the_report_of_a_partial_study_says_how_much_of_it_is_there(tmp_path: Path) -> None:
    study = write_study(
        tmp_path,
        runs=[{"optim.name": "sgd"}, {"optim.name": "adam", "optim.lr": 0.01}, {"optim.name": "sgd", "optim.lr": 0.01}],
        seeds=[0, 1],
    )
    ran = run_cli("run", str(study), "--only", "1,2", "--set", "train.batch_size=32")
    assert ran.returncode == 0, ran.stderr
    store = open_store(tmp_path / "store")
    runs = store.runs("tiny")
    stopped = runs[(runs["experiment"] == 2) & (runs["seed"] == 1)]["id"].item()
    row = store.run_row(stopped)
    # what a run killed in its second epoch leaves once it resumed: its first epoch, status partial
    StoreWriter(store)(
        RunStarted(stopped, json.loads(row["config"]), "accuracy", {"total": 1, "trainable": 1}, "cpu", 1)
    )
    store.close()

    out = tmp_path / "report"
    assert run_cli("report", str(study), "--out", str(out)).returncode == 0
    page = (out / "index.html").read_text()
    assert "3 of 6 runs finished." in page
    assert (
        f"experiment 2 seed 1 ({stopped[:8]}) at epoch 1 of 3" in page and "Not started: 2 runs (experiments 3)" in page
    )
    results = pd.read_csv(out / "results.csv").set_index("exp")
    assert sorted(results.index) == [1, 2]
    assert "(n=2)" in results.loc[1].to_string() and "(n=2)" not in results.loc[2].to_string()  # its seed 0 alone
    assert "partial" not in (out / "findings.md").read_text()
    # the spec as run: its overrides, selection and command line; the command line with each run too
    command = f"trainlab run {study} --only 1,2 --set train.batch_size=32"
    assert "as_run:" in page and "train.batch_size: 32" in page and f"command: {command}" in page
    assert json.loads(row["facts"])["command"] == command

    both = tmp_path / "with-partial"
    assert run_cli("report", str(study), "--out", str(both), "--include-partial").returncode == 0
    assert "in the report, marked (partial)" in (both / "index.html").read_text()
    assert pd.read_csv(both / "results.csv").to_string().count("(partial)") == 1
