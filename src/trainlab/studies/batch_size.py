"""The `batch_size` kind: a grid over batch sizes (and, per batch size, learning rates), trained like a train
study; the report finds, per optimizer, the steps and examples each batch size needs to reach a target
validation loss at its best learning rate, and fits McCandlish et al.'s critical batch size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trainlab.errors import TrainlabError
from trainlab.spec import KindSchema, RunSpec, StudySpec
from trainlab.store import Store
from trainlab.studies.kind import KINDS
from trainlab.studies.train import TrainKind


class BatchSizeSection(BaseModel):
    """The `batch_size:` section of a study (and of an `nqm` study's report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float  # the validation value to reach (of `metric`)
    metric: str = "loss"  # a validation metric the runs log
    group: str = "optim.name"  # one trade-off curve per value of this config key
    resamples: int = Field(1000, ge=0, le=100_000)  # bootstrap refits of B_crit
    seed: int = Field(0, ge=0)


class BatchSizeKind(TrainKind):
    """A train study over batch sizes."""

    schema = KindSchema(section=BatchSizeSection, needs_base=True)

    def plan(self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None,
             store: Store | None) -> list[RunSpec]:
        runs = super().plan(study, overrides, only, store)
        sizes = {run.config.train.batch_size for run in runs}
        if only is None and len(sizes) < 2:
            raise TrainlabError(f"batch_size: the study must vary train.batch_size (it has {len(sizes)} value"
                                f"{'s' if len(sizes) != 1 else ''}: {sorted(sizes)})")
        return runs

    def report(self, records: Any, out: Path) -> list[tuple[str, str]]:
        from trainlab.report.batch_size import batch_size_sections

        return [*batch_size_sections(records, out, records.spec["batch_size"]), *super().report(records, out)]


KINDS.register("batch_size", BatchSizeKind())
