"""The `landscape` kind: loss surfaces for the chosen runs of a stored train study (`landscape: {study: NAME,
...}`), each unit the surface of one run (computed by `compute`), the page drawing them side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.execution.units import Context, Outcome
from trainlab.spec import KindSchema, RunInput, StudySpec
from trainlab.store import Store
from trainlab.studies.kind import KINDS, PlanLine, StudyKind
from trainlab.studies.landscape.compute import landscape
from trainlab.studies.landscape.section import LandscapeStudy
from trainlab.train.build import DataCache


@dataclass(frozen=True)
class LandscapeUnit:
    """The surface of one stored run; it waits for the run (its input) to be done."""

    experiment: int
    seed: int
    run: dict[str, Any]  # the run's row in the study's listing
    spec: LandscapeStudy

    @property
    def id(self) -> str:
        return f"{self.run['id']}/landscape/{self.spec.key()}"

    @property
    def inputs(self) -> tuple[RunInput, ...]:
        return (RunInput(self.run["id"], self.spec.checkpoint),)


class LandscapeKind(StudyKind):
    """Surfaces for the chosen runs of a stored train study (`landscape: {study: NAME, ...}`)."""

    schema = KindSchema(section=LandscapeStudy, needs_base=False)

    def plan(
        self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None, store: Store | None
    ) -> list[LandscapeUnit]:
        section: LandscapeStudy = study.section
        runs = store.runs(section.study) if store else None
        if runs is None or runs.empty:
            raise TrainlabError(f"landscape.study: {section.study!r} has no runs in the store; run that study first")
        chosen = runs["experiment"].isin(only or section.experiments or runs["experiment"])
        if section.seeds:
            chosen &= runs["seed"].isin(section.seeds)
        return [LandscapeUnit(r["experiment"], r["seed"], r, section) for r in runs[chosen].to_dict(orient="records")]

    def describe(self, units: Sequence[LandscapeUnit], store: Store | None, data: DataCache) -> list[PlanLine]:
        return [
            PlanLine(
                u.experiment,
                u.seed,
                u.run["id"],
                {"landscape": u.spec.key()},
                u.run["params_total"],
                u.run["params_trainable"],
                u.run["params_non_embedding"],
                self.status(u, store) if store else "new",
                u.run["epochs_done"],
            )
            for u in units
        ]

    def status(self, unit: LandscapeUnit, store: Store) -> str:
        folder = f"runs/{unit.run['id']}/landscape/{unit.spec.key()}"
        return "done" if any(a["path"] == folder for a in store.artifacts(unit.run["id"])) else "new"

    def members(self, units: Sequence[LandscapeUnit]) -> list[dict[str, Any]]:
        return [
            {
                "experiment": u.experiment,
                "seed": u.seed,
                "run_id": u.run["id"],
                "label": u.run["label"],
                "changes": u.run["changes"],
            }
            for u in units
        ]

    def run(self, unit: LandscapeUnit, ctx: Context) -> Outcome:
        store = Store(ctx.store_root, read_only=True)  # reads the run; its writes go through ctx.sink
        try:
            files = landscape(store, unit.run["id"], unit.spec, ctx.device, ctx.sink)
        finally:
            store.close()
        return Outcome(unit.id, unit.experiment, unit.seed, "done", files=tuple(files))

    def report(self, records: Any, section: LandscapeStudy, out: Path) -> list[tuple[str, str]]:
        from trainlab.studies.landscape.report import landscape_sections

        return landscape_sections(records, out)


KINDS.register("landscape", LandscapeKind())
