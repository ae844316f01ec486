"""The `scaling` kind: a ladder of models (any registered model, sizes varied by the grid or run entries),
trained and evaluated like a train study; its report adds the compute-optimal analyses (IsoFLOP profiles
at the study's FLOP budgets, N_opt and D_opt against compute with the extrapolation to `target_flops`,
and Chinchilla's parametric fit with bootstrap intervals)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.spec import KindSchema, RunSpec, StudySpec
from trainlab.studies.kind import KINDS
from trainlab.studies.scaling.section import ScalingSection
from trainlab.studies.train import TrainKind


class ScalingKind(TrainKind):
    """A train study whose model configurations form a ladder of sizes."""

    schema = KindSchema(section=ScalingSection, needs_base=True)

    def check_grid(self, study: StudySpec, runs: Sequence[RunSpec]) -> None:
        models = {run.config.model.model_dump_json() for run in runs}
        if len(models) < 3:
            raise TrainlabError(
                f"scaling: a ladder needs at least three model configurations; {study.name} has "
                f"{len(models)} (vary model sizes in `runs` or `grid`)"
            )

    def own_sections(self, records: Any, section: ScalingSection, out: Path) -> list[tuple[str, str]]:
        from trainlab.studies.scaling.report import scaling_sections

        return scaling_sections(records, section, out)


KINDS.register("scaling", ScalingKind())
