"""Everything a report needs, read from the store once: spec, runs with summaries, metrics."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from trainlab.analysis.curves import AXES, Curves
from trainlab.analysis.summary import summarize_runs
from trainlab.analysis.sweep import SweptKeys, swept_keys
from trainlab.errors import TrainlabError
from trainlab.spec.metrics import metric_title
from trainlab.store import DONE_STATUSES, Store


@dataclass(frozen=True)
class Completeness:
    """How much of the study's plan the report covers: runs finished, partial (stopped, failed or still
    training: epochs done of those planned), not started; whether the partial ones are in the report."""

    planned: int
    finished: int
    partial: list[tuple[int, int, str, int, int | None]] = field(default_factory=list)  # exp, seed, id, done, of
    not_started: list[tuple[int, int]] = field(default_factory=list)  # exp, seed
    partial_included: bool = False

    def sentence(self) -> str:
        """'K of N runs finished', then which are partial (with their epochs) and which have not started."""
        parts = [f"{self.finished} of {self.planned} runs finished."]
        if self.partial:
            listed = "; ".join(
                f"experiment {e} seed {s} ({rid[:8]}) at epoch {done}" + (f" of {of}" if of else "")
                for e, s, rid, done, of in self.partial[:5]
            )
            more = f" and {len(self.partial) - 5} more" if len(self.partial) > 5 else ""
            where = (
                "in the report, marked (partial)"
                if self.partial_included
                else "left out of the tables, figures and findings (--include-partial puts them in)"
            )
            parts.append(f"Partial: {listed}{more}; {where}.")
        if self.not_started:
            numbers = sorted({e for e, _ in self.not_started})
            parts.append(
                f"Not started: {len(self.not_started)} runs (experiments {', '.join(map(str, numbers[:10]))}"
                f"{' ...' if len(numbers) > 10 else ''})."
            )
        return " ".join(parts)


@dataclass(frozen=True)
class StudyRecords:
    name: str
    spec: dict[str, Any]
    runs: pd.DataFrame  # one row per (experiment, seed), summaries included
    metrics: pd.DataFrame  # long format
    landscapes: list[tuple[str, Path]] = field(default_factory=list)  # (run id, computed landscape folder)
    samples: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # run id -> the best model's outputs
    x: str = "epoch"  # the axis (a key of AXES) of the curves, tables and findings that use one
    group: tuple[str, ...] | None = None  # config keys that group runs (--group); None: the swept categorical keys
    completeness: Completeness | None = None  # how much of the plan the records cover
    steps_per_epoch: Mapping[str, float] = field(default_factory=dict)  # run id -> optimizer steps per data epoch
    curves: Curves | None = field(default=None, repr=False, compare=False)  # load_records': summaries used them

    @cached_property
    def curve(self) -> Curves:
        """records.curve(run_id, split, name, x): one run's metric over a value of AXES (or the round)."""
        return self.curves if self.curves is not None else Curves(self.metrics, self.steps_per_epoch)

    @cached_property
    def swept(self) -> SweptKeys:
        """The config keys the study varies, numeric and categorical."""
        return swept_keys(self.runs)

    @property
    def group_keys(self) -> tuple[str, ...]:
        """What the runs are grouped by in sweep figures and tables: --group, else the categorical swept keys."""
        return self.group if self.group is not None else self.swept.categorical

    def ranked_experiments(self) -> list[int]:
        """Experiment numbers, best mean valid main metric first (those without one last)."""
        means = self.runs.groupby("experiment")["valid_metric"].mean()
        order = (-means if self.mode == "max" else means).fillna(float("inf")).sort_values(kind="stable")
        return [int(n) for n in order.index]

    @property
    def step_based(self) -> bool:
        """True when the runs validate every `train.eval_every_steps` steps (rounds are not data epochs)."""
        key = "train.eval_every_steps"
        return key in self.runs and bool(self.runs[key].notna().any())

    def x_label(self, x: str | None = None) -> str:
        """What an axis counts, in words: 'optimizer steps', 'tokens seen', ..."""
        seen = "tokens seen" if self._flops_units == {"token"} else "examples seen"
        return {
            "step": "optimizer steps",
            "epoch": "epochs (passes over the training data)",
            "seen": seen,
            "seconds": "cumulative training time (s)",
            "flops": "cumulative training FLOPs",
        }[x or self.x]

    @cached_property
    def _flops_units(self) -> set[str]:
        return {json.loads(f).get("flops_unit") for f in self.runs["facts"]} - {None}

    @cached_property
    def main_metric(self) -> str:
        return str(self.runs["main_metric"].mode().iloc[0])

    @property
    def metric_title(self) -> str:
        """The main metric as shown: 'bleu (0-100)'."""
        return metric_title(self.main_metric)

    @cached_property
    def mode(self) -> str:
        """'max' when a higher main metric is better (accuracy, BLEU), 'min' otherwise (loss, perplexity), as
        the runs' task recorded it; stores older than that knew accuracy as the only higher-is-better one."""
        recorded = {json.loads(f).get("main_mode") for f in self.runs["facts"]} - {None}
        return recorded.pop() if len(recorded) == 1 else "max" if self.main_metric == "accuracy" else "min"

    def experiments(self) -> list[tuple[int, str, pd.DataFrame]]:
        """(number, label, its runs) in experiment order."""
        return list(self._experiments)

    @cached_property
    def _experiments(self) -> tuple[tuple[int, str, pd.DataFrame], ...]:  # asked for by every figure and table
        return tuple((int(n), str(g["label"].iloc[0]), g) for n, g in self.runs.groupby("experiment", sort=True))

    @cached_property
    def packed(self) -> dict[int, tuple[int, int]]:
        """Per experiment: how many of its runs trained packed (their `packed` fact, trainlab run --pack), of how
        many (read once: the report's time tables, figures and findings all ask)."""
        out = {}
        for number, _, runs in self.experiments():
            facts = [json.loads(f) for f in runs["facts"]] if "facts" in runs else []
            out[number] = (sum(bool(f.get("packed")) for f in facts), len(runs))
        return out

    def column(self, runs: pd.DataFrame, key: str) -> object:
        """A config value of an experiment's runs (None where the config has no such key)."""
        return runs[key].iloc[0] if key in runs and pd.notna(runs[key].iloc[0]) else None

    def architecture(self, runs: pd.DataFrame) -> str:
        """The model configuration of an experiment: model name plus the model/data options the
        study varies (what one figure with a subplot per optimizer is about)."""
        varied = {k: v for k, v in runs["changes"].iloc[0].items() if k.split(".")[0] in ("model", "data")}
        name = str(self.column(runs, "model.name") or "the model")  # a tracked run's config may name none
        options = ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in varied.items() if k != "model.name")
        return f"{name} ({options})" if options else name

    def sort_key(self, number: int, runs: pd.DataFrame) -> tuple:
        """Architecture, then layers, then optimizer, then experiment number."""
        layers = self.column(runs, "model.layers")
        return (
            str(self.column(runs, "model.name")),
            layers if layers is not None else -1,
            str(self.column(runs, "optim.name")),
            number,
        )

    @property
    def n_seeds(self) -> int:
        return int(self.runs.groupby("experiment")["seed"].nunique().max())


def load_records(
    store: Store,
    study: str,
    x: str | None = None,
    group: tuple[str, ...] | None = None,
    include_partial: bool = False,
) -> StudyRecords:
    """The study's records; curves over `x` (a key of AXES; default: steps when the runs validate every
    `train.eval_every_steps` steps, else epochs); sweep figures grouped by the config keys `group`. Runs not
    finished are left out (and listed in `completeness`) unless `include_partial`, or unless none is
    finished; included, their experiments' labels say (partial)."""
    if x is not None and x not in AXES:
        raise TrainlabError(f"--x: {x!r} is not an axis; choose one of {', '.join(AXES)}")
    spec = store.study_spec(study)
    if spec is None:
        known = ", ".join(store.study_names()) or "none"
        raise TrainlabError(f"study {study!r}: not in store {store.root}; studies there: {known}")
    runs = store.runs(study)
    started = runs[runs["epochs_done"] > 0]
    if started.empty:
        raise TrainlabError(f"study {study!r}: no run has finished an epoch yet; run `trainlab run` first")
    started, completeness = _complete(store.study_plan(study), started, include_partial)
    facts = {r.id: json.loads(r.facts) for r in started.itertuples()}
    metrics = store.metrics(started["id"].unique(), categorical=True)
    per_epoch = {rid: f["steps_per_epoch"] for rid, f in facts.items() if "steps_per_epoch" in f}
    curves = Curves(metrics, per_epoch)
    artifacts = [(rid, a, store.root / a["path"]) for rid in started["id"].unique() for a in store.artifacts(rid)]
    landscapes = [
        (rid, path) for rid, a, path in artifacts if a["kind"] == "landscape" and (path / "spec.json").exists()
    ]
    samples = {
        rid: json.loads(path.read_text()) for rid, a, path in artifacts if a["kind"] == "samples" and path.exists()
    }
    records = StudyRecords(
        study,
        spec,
        summarize_runs(started, metrics, curves),
        metrics,
        landscapes,
        samples,
        group=group,
        completeness=completeness,
        steps_per_epoch=per_epoch,
        curves=curves,
    )
    unknown = [k for k in group or () if k not in records.runs]
    if unknown:
        varied = ", ".join([*records.swept.categorical, *records.swept.numeric]) or "none"
        raise TrainlabError(f"--group: {unknown[0]!r} is not a config key of study {study!r}; keys it varies: {varied}")
    return replace(records, x=x or ("step" if records.step_based else "epoch"))


def _complete(
    plan: list[tuple[int, int, str, str]], started: pd.DataFrame, include_partial: bool
) -> tuple[pd.DataFrame, Completeness]:
    """The runs the report covers, and what the plan says of the rest."""
    finished = started["status"].isin(DONE_STATUSES)
    include = include_partial or not finished.any()
    unfinished = started[~finished]
    epochs_of = unfinished["train.epochs"] if "train.epochs" in unfinished else pd.Series(None, index=unfinished.index)
    partial = [
        (int(r.experiment), int(r.seed), r.id, int(r.epochs_done), None if pd.isna(of) else int(of))
        for r, of in zip(unfinished.itertuples(), epochs_of)
    ]
    ids = set(started["id"])
    completeness = Completeness(
        planned=len(plan) or len(started),
        finished=int(finished.sum()),
        partial=partial,
        not_started=[(e, s) for e, s, rid, _ in plan if rid not in ids],
        partial_included=include and bool(partial),
    )
    if not include:
        return started[finished], completeness
    marked = set(unfinished["experiment"])
    label = started["label"].where(~started["experiment"].isin(marked), started["label"] + " (partial)")
    return started.assign(label=label), completeness
