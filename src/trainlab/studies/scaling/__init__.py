"""The `scaling` kind: a ladder of models (any registered model, sizes varied by the grid or run entries),
trained and evaluated like a train study; its report adds the compute-optimal analyses (IsoFLOP profiles
at the study's FLOP budgets, N_opt and D_opt against compute with the extrapolation to `target_flops`,
and Chinchilla's parametric fit with bootstrap intervals)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainlab.errors import TrainlabError
from trainlab.spec import KindSchema, RunSpec, StudySpec
from trainlab.store import Store
from trainlab.studies.kind import KINDS
from trainlab.studies.train import TrainKind
from trainlab.studies.scaling.section import ScalingSection


class ScalingKind(TrainKind):
    """A train study whose model configurations form a ladder of sizes."""

    schema = KindSchema(section=ScalingSection, needs_base=True)

    def plan(self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None,
             store: Store | None) -> list[RunSpec]:
        runs = super().plan(study, overrides, only, store)
        models = {run.config.model.model_dump_json() for run in runs}
        if only is None and len(models) < 3:
            raise TrainlabError(f"scaling: a ladder needs at least three model configurations; {study.name} has "
                                f"{len(models)} (vary model sizes in `runs` or `grid`)")
        return runs

    def report(self, records: Any, section: ScalingSection, out: Path) -> list[tuple[str, str]]:
        from trainlab.studies.scaling.report import scaling_sections

        return [*scaling_sections(records, section, out), *super().report(records, section, out)]


KINDS.register("scaling", ScalingKind())
