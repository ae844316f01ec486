"""The `train` kind: a grid of training runs (base, runs, grid, seeds); each unit is one run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlab.data import DataInfo
from trainlab.errors import TrainlabError
from trainlab.execution import packing
from trainlab.execution.runner import train_pack, train_run
from trainlab.execution.units import Context, Outcome
from trainlab.models import MODELS
from trainlab.registry import BUILT_IN
from trainlab.spec import KindSchema, RunConfig, RunSpec, StudySpec
from trainlab.store import Store
from trainlab.studies.catalog import plan
from trainlab.studies.kind import KINDS, PlanLine, StudyKind
from trainlab.train import measure
from trainlab.train.build import DataCache, build_model, check_plugins, check_train_options


def shaped_model(config: RunConfig, info: DataInfo) -> nn.Module:
    """The run's model built on the meta device (shapes, no memory); on the CPU if its builder computes with
    tensors (a user's model may: meta tensors hold no values)."""
    try:
        with torch.device("meta"):
            return build_model(config, info)
    except TrainlabError:
        if MODELS.get(config.model.name).origin == BUILT_IN:  # a built-in's error is the error
            raise
        return build_model(config, info)


class ParameterCounts:
    """Parameters of a run's model, built on the meta device (no memory, catches model/data mismatches);
    counted once per model and data config, since seeds and optimizers share them."""

    def __init__(self, data: DataCache) -> None:
        self.data, self._counts = data, {}

    def __call__(self, run: RunSpec) -> dict[str, int]:
        key = json.dumps(
            [run.config.data.model_dump(mode="json"), run.config.model.model_dump(mode="json")], sort_keys=True
        )
        if key not in self._counts:
            info = run.config.data.static_info() or self.data.get(run.config).info  # read data only when shapes need it
            self._counts[key] = measure.parameter_counts(shaped_model(run.config, info))
        return self._counts[key]


def plan_line(run: RunSpec, params: dict[str, int], store: Store | None) -> PlanLine:
    row = store.run_row(run.id) if store else None
    return PlanLine(
        run.experiment,
        run.seed,
        run.id,
        dict(run.changes),
        params["total"],
        params["trainable"],
        params["non_embedding"],
        row["status"] if row else "new",
        row["epochs_done"] if row else 0,
        run.parent,
        run.relation,
        run.label,
    )


def members(runs: Sequence[RunSpec]) -> list[dict[str, Any]]:
    return [
        {"experiment": r.experiment, "seed": r.seed, "run_id": r.id, "label": r.label, "changes": r.changes}
        for r in runs
    ]


class TrainKind(StudyKind):
    """Every run of the grid, trained and measured; the report compares them."""

    schema = KindSchema(needs_base=True)

    def plan(
        self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None, store: Store | None
    ) -> list[RunSpec]:
        runs = plan(study, overrides, only)
        if only is None:
            self.check_grid(study, runs)
        return runs

    def check_grid(self, study: StudySpec, runs: Sequence[RunSpec]) -> None:
        """What the whole grid of a study of this kind must be (not checked when --only picks part of it)."""

    def describe(self, units: Sequence[RunSpec], store: Store | None, data: DataCache) -> list[PlanLine]:
        counts = ParameterCounts(data)
        return [plan_line(run, counts(run), store) for run in units]

    def preflight(self, units: Sequence[RunSpec], device: torch.device, data: DataCache) -> list[str]:
        notes: set[str] = set()
        counts = ParameterCounts(data)
        for run in units:  # every data and model error surfaces here, before the store is touched
            notes.update(check_train_options(run.config.train, device))
            check_plugins(run.config)
            notes.update(data.get(run.config).notes)
            counts(run)
        return sorted(notes)

    def members(self, units: Sequence[RunSpec]) -> list[dict[str, Any]]:
        return members(units)

    def run(self, unit: RunSpec, ctx: Context) -> Outcome:
        return train_run(unit, ctx)

    def pack_key(self, unit: RunSpec) -> str | None:
        return packing.pack_key(unit)

    def why_alone(self, unit: RunSpec) -> str:
        return packing.why_alone(unit)

    def run_pack(self, units: Sequence[RunSpec], ctx: Context) -> list[Outcome]:
        return train_pack(units, ctx)

    def report(self, records: Any, section: Any, out: Path) -> list[tuple[str, str]]:
        from trainlab.report import standard_sections

        return [*self.own_sections(records, section, out), *standard_sections(records, out)]

    def own_sections(self, records: Any, section: Any, out: Path) -> list[tuple[str, str]]:
        """The sections of the kind's own analysis, before the standard comparison of the runs."""
        return []


KINDS.register("train", TrainKind())
