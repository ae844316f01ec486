"""The `batch_size` kind: a grid over batch sizes (and, per batch size, learning rates), trained like a train
study; the report finds, per optimizer, the steps and examples each batch size needs to reach a target
validation loss at its best learning rate, and fits McCandlish et al.'s critical batch size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.spec import KindSchema, RunSpec, StudySpec
from trainlab.studies.batch_size.section import BatchSizeSection
from trainlab.studies.kind import KINDS
from trainlab.studies.train import TrainKind


class BatchSizeKind(TrainKind):
    """A train study over batch sizes."""

    schema = KindSchema(section=BatchSizeSection, needs_base=True)

    def check_grid(self, study: StudySpec, runs: Sequence[RunSpec]) -> None:
        sizes = {run.config.train.batch_size for run in runs}
        if len(sizes) < 2:
            raise TrainlabError(
                f"batch_size: the study must vary train.batch_size (it has {len(sizes)} value"
                f"{'s' if len(sizes) != 1 else ''}: {sorted(sizes)})"
            )

    def own_sections(self, records: Any, section: BatchSizeSection, out: Path) -> list[tuple[str, str]]:
        from trainlab.studies.batch_size.report import batch_size_sections

        return batch_size_sections(records, out, section)


KINDS.register("batch_size", BatchSizeKind())
