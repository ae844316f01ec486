"""Step-based runs in the report: curves, tables and findings over steps, and every other axis on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_study
from trainlab.analysis.curves import AXES
from trainlab.api import report_study, run_study
from trainlab.errors import TrainlabError
from trainlab.report.records import load_records
from trainlab.report.tables import convergence_table
from trainlab.store import open_store


@pytest.fixture(scope="module")
def step_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two optimizers, 20 steps each, validated every 4 steps (7 steps per data epoch)."""
    folder = tmp_path_factory.mktemp("steps")
    study = write_study(folder, runs=[{"optim.name": "sgd"}, {"optim.name": "adam", "optim.lr": 0.01}])
    run_study(study, {"train.steps": 20, "train.eval_every_steps": 4})
    return study


def test_step_based_records_default_to_steps_and_carry_every_axis(step_study: Path) -> None:
    """The five validation points of each run sit at steps 4..20, at data epochs step / 7, and at growing
    seconds, examples seen (batches of 64, epochs of 420) and FLOPs."""
    store = open_store(step_study.parent / "store")
    records = load_records(store, "tiny")
    assert records.step_based and records.x == "step"
    rid = records.runs["id"].iloc[0]
    valid = records.curve(rid, "valid", "loss", AXES["step"])
    assert valid.index.tolist() == [4, 8, 12, 16, 20]
    epochs = records.curve(rid, "valid", "loss", AXES["epoch"])
    assert epochs.index.tolist() == pytest.approx([s / 7 for s in (4, 8, 12, 16, 20)])
    sizes = ([64] * 6 + [36]) * 3
    seen = records.curve(rid, "valid", "loss", AXES["seen"])
    assert seen.index.tolist() == [sum(sizes[:s]) for s in (4, 8, 12, 16, 20)]
    for x in ("seconds", "flops"):
        index = records.curve(rid, "valid", "loss", AXES[x]).index
        assert len(index) == 5 and index.is_monotonic_increasing and index[0] > 0
    flops_per_example = records.curve(rid, "valid", "loss", AXES["flops"]).index / seen.index
    assert flops_per_example.nunique() == 1  # cumulative FLOPs grow with examples seen


def test_report_over_steps_names_steps_and_draws_every_axis(step_study: Path, tmp_path: Path) -> None:
    """The convergence table counts steps, the results table gives the best step, and the page has one
    curve figure per axis."""
    report_study(step_study, out=tmp_path)  # the one report of these runs; the other axes are read as tables
    convergence = (tmp_path / "convergence.md").read_text()
    assert "steps to target" in convergence and "epochs to target" not in convergence
    assert "best step" in (tmp_path / "results.md").read_text()
    assert {f"curves_{x}.png" for x in AXES} <= {p.name for p in tmp_path.iterdir()}
    assert "optimizer steps" in (tmp_path / "index.html").read_text()


def test_the_axis_can_be_chosen_and_a_bad_one_is_refused(step_study: Path, tmp_path: Path) -> None:
    """--x flops puts FLOPs in the convergence table; an unknown axis names the valid ones."""
    records = load_records(open_store(step_study.parent / "store"), "tiny", x="flops")
    table, _ = convergence_table(records)
    assert "FLOPs to target" in table.markdown()
    with pytest.raises(TrainlabError, match="--x: 'iterations' is not an axis; choose one of step, epoch, seen"):
        report_study(step_study, out=tmp_path, x="iterations")
