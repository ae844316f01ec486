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
from trainlab.studies.batch_size.section import BatchSizeSection


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

    def report(self, records: Any, section: BatchSizeSection, out: Path) -> list[tuple[str, str]]:
        from trainlab.studies.batch_size.report import batch_size_sections

        return [*batch_size_sections(records, out, section), *super().report(records, section, out)]


KINDS.register("batch_size", BatchSizeKind())
