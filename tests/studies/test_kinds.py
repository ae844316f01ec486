"""The kind contract (every registered kind, and a third kind defined only in the tests: validates,
plans, runs a tiny instance, reports) and runs that start from other runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_BASE, write_study
from tests.studies import extra_kinds
from tests.trained import TINY, Trained
from trainlab.api import check_study, describe_run, run_study, run_summaries
from trainlab.store import open_store
from trainlab.studies.catalog import load_study
from trainlab.studies.kind import KINDS


@pytest.fixture(autouse=True)
def _extra_kinds_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    extra_kinds.register(monkeypatch)


def test_every_registered_kind_has_a_tiny_study() -> None:
    """A kind added without a tiny study in tests/trained.py fails this test (as a model without a contract
    entry would)."""
    assert set(KINDS.names()) <= set(TINY)


README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_kind_validates_plans_runs_and_reports(name: str, trained: Callable[[str], Trained]) -> None:
    """Through trainlab.api, which knows no kind by name: the study validates, `check` plans new units,
    `run` does them all (and skips them the second time), `report` writes a page."""
    study = trained(name)
    assert load_study(study.study).kind == name
    assert {line.status for line in study.before} == {"new"}
    assert {o.status for o in study.first} == {"done"}
    assert {o.status for o in study.second} == {"skipped"}
    assert {line.status for line in study.after} == {"done"}
    page = study.page.read_text()
    assert page.count("<h2>") >= 2 and "Summary" in page


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_report_file_is_in_every_format_the_readme_promises(name: str, trained: Callable[[str], Trained]):
    """`trainlab report`: figures (PNG, PDF), tables (Markdown, LaTeX, CSV), findings, index.html - for every
    figure and table a kind's report writes, each format is there."""
    assert "figures (PNG, PDF), tables (Markdown, LaTeX, CSV), findings, index.html" in README.read_text()
    folder = trained(name).page.parent
    stems = {p.stem: {q.suffix for q in folder.glob(f"{p.stem}.*")} for p in folder.iterdir() if p.is_file()}
    figures = {s for s, found in stems.items() if ".png" in found or ".pdf" in found}
    tables = {s for s, found in stems.items() if found & {".md", ".csv", ".tex"}} - {"findings"}
    assert figures | tables or name == "landscape", stems  # a one-surface landscape study draws on its page only
    assert all(stems[s] >= {".png", ".pdf"} for s in figures), stems
    assert all(stems[s] >= {".md", ".csv", ".tex"} for s in tables), stems


def test_a_child_starts_from_its_parents_checkpoint_and_names_it(trained: Callable[[str], Trained]) -> None:
    """The parent keeps the epoch its child asked for; the child's step-0 weights are exactly that
    checkpoint; the store, ls and show name the relation both ways."""
    study = trained("warm_start")
    parent, child = study.before
    assert parent.parent is None and child.parent == parent.id and child.relation == "warm start of"
    runs = study.store / "runs"
    kept = torch.load(runs / parent.id / "epoch_1.pt", weights_only=True)
    start = torch.load(runs / child.id / "init.pt", weights_only=True)
    assert kept.keys() == start.keys() and all(torch.equal(kept[k], start[k]) for k in kept)
    assert not (runs / parent.id / "epoch_2.pt").exists()  # only what a child needs is kept
    store = open_store(study.store)
    listed = run_summaries(store, "tiny").set_index("id")
    assert listed.loc[child.id, "parent_id"] == parent.id and listed.loc[child.id, "relation"] == "warm start of"
    assert describe_run(store, child.id)["parent"] == f"warm start of {parent.id}"
    assert describe_run(store, parent.id)["children"] == [f"warm start of this: {child.id}"]


def test_a_kind_can_make_its_runs_starting_weights(trained: Callable[[str], Trained], tmp_path: Path) -> None:
    """The test-only `scaled_start` kind fills the trainer's `Start`: its run begins at exactly half the
    initialisation the same config gets in a train study, has an id of its own, and carries the start's facts."""
    scaled = trained("scaled_start")
    (plain,) = run_study(write_study(tmp_path))
    (line,) = scaled.before
    assert line.id != plain.id
    start = torch.load(scaled.store / "runs" / line.id / "init.pt", weights_only=True)
    unscaled = torch.load(tmp_path / "store" / "runs" / plain.id / "init.pt", weights_only=True)
    assert start.keys() == unscaled.keys() and all(torch.equal(start[k], 0.5 * unscaled[k]) for k in start)
    assert json.loads(open_store(scaled.store).run_row(line.id)["facts"])["scaled_by"] == 0.5


def test_a_childs_id_covers_its_input(tmp_path: Path) -> None:
    """Same config, different input checkpoint: different child ids; the parent keeps its train-kind id."""
    best = check_study(write_study(tmp_path, kind="warm_start", warm_start={"checkpoint": "best"}))
    last = check_study(write_study(tmp_path, kind="warm_start", warm_start={"checkpoint": "last"}))
    plain = check_study(write_study(tmp_path))
    assert best[0].id == last[0].id == plain[0].id == "94668ab205d0"  # tests/spec/test_plan.py GOLDEN_IDS
    assert len({best[0].id, best[1].id, last[1].id}) == 3
    assert best[1].id == check_study(write_study(tmp_path, kind="warm_start", warm_start={"checkpoint": "best"}))[1].id


def test_a_child_of_a_diverged_run_is_blocked_with_the_reason(tmp_path: Path) -> None:
    """The parent diverges; its child never starts and says why, in `run` and in `check`."""
    path = write_study(
        tmp_path, kind="warm_start", base={**TINY_BASE, "optim": {"lr": 1e30}, "schedule": {"name": "none"}}
    )
    parent, child = run_study(path)
    assert parent.status == "diverged"
    assert child.status == "blocked" and child.reason == f"its input run {parent.id} diverged"
    assert [line.status for line in check_study(path)] == ["diverged", "blocked"]
    assert open_store(tmp_path / "store").run_row(child.id) is None


def test_a_checkpoint_the_parent_never_kept_blocks_the_child(tmp_path: Path) -> None:
    """A parent trained before a child asked for its epoch 2: the child is blocked, not started from nothing."""
    run_study(write_study(tmp_path))
    (_, child) = run_study(write_study(tmp_path, kind="warm_start", warm_start={"checkpoint": "epoch:2"}))
    assert child.status == "blocked" and child.reason.endswith("kept no epoch:2 checkpoint")


def test_a_step_checkpoint_is_kept_mid_epoch(tmp_path: Path) -> None:
    """step:K inputs: the parent saves its weights after optimizer step K (7 steps per epoch here)."""
    path = write_study(tmp_path, kind="warm_start", warm_start={"checkpoint": "step:10"})
    parent, child = run_study(path)
    assert (parent.status, child.status) == ("done", "done")
    assert (tmp_path / "store" / "runs" / parent.id / "step_10.pt").exists()
