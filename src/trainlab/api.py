"""What the CLI and notebooks call: check, run and report a study."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console

from trainlab.analysis.summary import summarize_runs
from trainlab.data import DataInfo
from trainlab.errors import TrainlabError

from trainlab.spec import RunSpec, StudySpec, load_study, select_experiments
from trainlab.store import DONE_STATUSES, Store
from trainlab.studies.build import DataCache, build_model, check_train_options, resolve_device
from trainlab.studies.catalog import plan
from trainlab.studies.train import RunOutcome
from trainlab.studies.train import run_study as _run_study
from trainlab.train import measure

DEFAULT_STORE = "trainlab-store"


def _as_study(study: StudySpec | str | Path) -> StudySpec:
    return study if isinstance(study, StudySpec) else load_study(study)


def store_root(study: StudySpec, store: str | Path | None) -> Path:
    """--store wins, then the study's `store:`, then ./trainlab-store."""
    return Path(store or study.store or DEFAULT_STORE)


def planned_runs(
    study: StudySpec, overrides: Mapping[str, Any] | None = None, only: Sequence[int] | None = None
) -> list[RunSpec]:
    runs = plan(study, overrides)
    return select_experiments(runs, only) if only else runs


@dataclass(frozen=True)
class PlanLine:
    """One line of `trainlab check`."""

    experiment: int
    seed: int
    id: str
    changes: dict[str, Any]
    params_total: int
    params_trainable: int
    params_non_embedding: int
    status: str
    epochs_done: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _status(store: Store | None, run_id: str) -> tuple[str, int]:
    row = store.run_row(run_id) if store else None
    if row is None:
        return "new", 0
    return row["status"], row["epochs_done"]


def _open_if_present(root: Path) -> Store | None:
    """The store at `root` if one exists; never creates one (check and preflight write nothing)."""
    return Store(root) if (root / "store.sqlite").exists() else None


def _parameters(run: RunSpec, info: DataInfo) -> dict[str, int]:
    """Build the run's model on the meta device: catches model/data mismatches before anything is
    written, and counts parameters without allocating them."""
    with torch.device("meta"):
        model = build_model(run.config, info)
    return measure.parameter_counts(model)


def check_study(
    study: StudySpec | str | Path,
    overrides: Mapping[str, Any] | None = None,
    only: Sequence[int] | None = None,
    store: str | Path | None = None,
) -> list[PlanLine]:
    """Validate and describe the plan; reads the store if it exists, never creates one."""
    study = _as_study(study)
    if study.kind == "landscape":
        return _landscape_plan(study, store)
    runs = planned_runs(study, overrides, only)
    db = _open_if_present(store_root(study, store))
    cache, lines = DataCache(), []
    for run in runs:  # the data is read only when the model's shape depends on it
        params = _parameters(run, run.config.data.static_info() or cache.get(run.config).info)
        status, epochs = _status(db, run.id)
        lines.append(
            PlanLine(
                run.experiment, run.seed, run.id, dict(run.changes),
                params["total"], params["trainable"], params["non_embedding"], status, epochs,
            )
        )
    if db:
        db.close()
    return lines


def run_study(
    study: StudySpec | str | Path,
    overrides: Mapping[str, Any] | None = None,
    only: Sequence[int] | None = None,
    store: str | Path | None = None,
    device: str = "auto",
    console: Console | None = None,
    project_dir: Path | None = None,
) -> list[RunOutcome]:
    """Train every run of the study not yet done; everything is validated before any work starts."""
    if isinstance(study, (str, Path)) and project_dir is None:
        project_dir = Path(study).resolve().parent
    study = _as_study(study)
    if study.kind == "landscape":
        return _run_landscapes(study, store, device, console)
    runs = planned_runs(study, overrides, only)
    dev = resolve_device(device)
    root = store_root(study, store)
    existing = _open_if_present(root)
    pending = [r for r in runs if _status(existing, r.id)[0] not in DONE_STATUSES]
    if existing:
        existing.close()
    cache, notes = DataCache(), set()
    for run in pending:  # every data and model error surfaces here, before the store is touched
        notes.update(check_train_options(run.config.train, dev))
        _parameters(run, cache.get(run.config).info)
    for note in sorted(notes) if console else []:
        console.print(f"[yellow]note:[/yellow] {note}")
    db = Store(root)
    try:
        return _run_study(study, runs, db, dev, console, project_dir, cache)
    finally:
        db.close()


def report_study(study: StudySpec | str | Path, store: str | Path | None = None, out: str | Path | None = None) -> Path:
    """Write the study's report (figures, tables, HTML page) from the store; returns the HTML path."""
    from trainlab.report import write_report

    study = _as_study(study)
    root = store_root(study, store)
    if not (root / "store.sqlite").exists():
        raise TrainlabError(f"store {root}: no store here; run `trainlab run` first or pass --store DIR")
    db = Store(root)
    try:
        return write_report(db, study.name, Path(out or Path("trainlab-report") / study.name))
    finally:
        db.close()


def run_summaries(store: Store, study: str | None = None) -> pd.DataFrame:
    """One row per (study, experiment, seed): status, best valid metric, seconds per epoch, parameters."""
    runs = store.runs(study)
    if runs.empty:
        if study is not None and study not in store.study_names():
            raise TrainlabError(f"--study {study}: not in the store; studies: {', '.join(store.study_names()) or 'none'}")
        return runs
    return summarize_runs(runs, store.metrics(runs["id"].unique()))


def _flops_line(facts: dict[str, Any], cumulative: float | None) -> str | None:
    if "flops_per_unit" not in facts:
        return None
    unit = facts["flops_unit"]
    text = f"{facts['flops_per_unit']:.4g} per {unit} counted by torch"
    if facts.get("flops_per_unit_analytic"):
        text += f", {facts['flops_per_unit_analytic']:.4g} analytic"
    if cumulative is not None and cumulative == cumulative:
        text += f"; {cumulative:.4g} in all"
    return text


def _unique_run(store: Store, prefix: str) -> str:
    matches = [i for i in store.run_ids() if i.startswith(prefix)]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs ({', '.join(matches[:5])})"
        raise TrainlabError(f"run {prefix}: {what} with that id prefix in {store.root}")
    return matches[0]


def describe_run(store: Store, prefix: str) -> dict[str, Any]:
    """Everything `trainlab show` prints about one run (a unique id prefix is enough)."""
    run_id = _unique_run(store, prefix)
    row = store.run_row(run_id)
    metrics = store.metrics([run_id])
    memberships = store.runs()
    memberships = memberships[memberships["id"] == run_id]
    summary = summarize_runs(memberships.head(1), metrics) if not memberships.empty else None
    epochs = (
        metrics[metrics["split"].isin(["train", "valid"])]
        .assign(key=lambda d: d["split"] + "/" + d["name"])
        .pivot_table(index="epoch", columns="key", values="value", aggfunc="last")
        .reset_index()
    )
    test = {f"{r.split}/{r.name}": r.value for r in metrics[metrics["split"].str.startswith("test")].itertuples()}
    first = summary.iloc[0] if summary is not None else {}
    facts = json.loads(row["facts"])
    return {
        "id": run_id,
        "status": row["status"],
        "epochs_done": row["epochs_done"],
        "studies": [f"{r.study} exp {r.experiment} seed {r.seed}" for r in memberships.itertuples()],
        "device": row["device"],
        "hardware": facts.get("hardware"),
        "params_total": row["params_total"],
        "params_trainable": row["params_trainable"],
        "params_non_embedding": row["params_non_embedding"],
        "best": f"valid {row['main_metric']} {row['best_value']:.4g} at epoch {row['best_epoch']}"
        if row["best_value"] is not None
        else None,
        "train_s_per_epoch": first.get("train_s_per_epoch"),
        "eval_s_per_epoch": first.get("eval_s_per_epoch"),
        "samples_per_s": first.get("samples_per_s"),
        "tokens_per_s": first.get("tokens_per_s"),
        "eval_samples_per_s": first.get("eval_samples_per_s"),
        "eval_tokens_per_s": first.get("eval_tokens_per_s"),
        "memory": {k: float(first[k]) for k in ("peak_rss_mb", "peak_allocated_mb", "peak_reserved_mb", "nvml_used_mb")
                   if k in first and first[k] == first[k]},
        "test": test,
        "flops": _flops_line(facts, first.get("flops")),
        "memory_analytic": facts.get("memory_analytic"),
        "params_by_module": facts.get("params_by_module"),
        "folder": str(store.root / "runs" / run_id),
        "config": json.loads(row["config"]),
        "epochs": epochs.to_dict(orient="records"),
    }


def landscape(store_dir: str | Path, run: str, spec: Any, device: str = "auto", console: Console | None = None) -> list[Path]:
    """Compute (or continue) a run's loss landscape and render its figures; returns the files written."""
    from rich.progress import Progress

    from trainlab.report.landscape import render
    from trainlab.studies.landscape import compute

    root = Path(store_dir)
    if not (root / "store.sqlite").exists():
        raise TrainlabError(f"store {root}: no store here; run `trainlab run STUDY` first or pass --store DIR")
    db = Store(root)
    try:
        run_id = _unique_run(db, run)
        with Progress(console=console, disable=console is None) as bar:
            task = bar.add_task(f"landscape {run_id[:8]}", total=None)
            out = compute(db, run_id, spec, resolve_device(device),
                          progress=lambda done, total: bar.update(task, completed=done, total=total))
        return [out / "landscape.csv", *render(out)]
    finally:
        db.close()


@dataclass(frozen=True)
class LandscapeOutcome:
    run_id: str
    status: str  # done, or skipped (the source run has not finished)
    files: tuple[Path, ...] = ()


def _landscape_targets(study: StudySpec, db: Store | None) -> list[dict[str, Any]]:
    """The stored runs a landscape study covers: its source study's runs, filtered."""
    section = study.landscape
    runs = db.runs(section.study) if db else pd.DataFrame()
    if runs.empty:
        raise TrainlabError(f"landscape.study: {section.study!r} has no runs in the store; run that study first")
    if section.experiments:
        runs = runs[runs["experiment"].isin(section.experiments)]
    if section.seeds:
        runs = runs[runs["seed"].isin(section.seeds)]
    return runs.to_dict(orient="records")


def _landscape_plan(study: StudySpec, store: str | Path | None) -> list[PlanLine]:
    db = _open_if_present(store_root(study, store))
    try:
        return [
            PlanLine(r["experiment"], r["seed"], r["id"], {"landscape": study.landscape.key()}, r["params_total"],
                     r["params_trainable"], r["params_non_embedding"], r["status"], r["epochs_done"])
            for r in _landscape_targets(study, db)
        ]
    finally:
        if db:
            db.close()


def _run_landscapes(study: StudySpec, store: str | Path | None, device: str, console: Console | None) -> list[LandscapeOutcome]:
    root = store_root(study, store)
    db = _open_if_present(root)
    targets = _landscape_targets(study, db)
    db.close()
    outcomes = []
    for target in targets:
        if target["status"] != "done":
            outcomes.append(LandscapeOutcome(target["id"], "skipped"))
            continue
        files = landscape(root, target["id"], study.landscape, device, console)
        outcomes.append(LandscapeOutcome(target["id"], "done", tuple(files)))
    return outcomes
