"""A third study kind, written in the tests only: each run of the grid is followed by a run that starts
from its checkpoint ("warm start of"). It is what a new kind costs: one module, one registration line,
nothing in trainlab.api or trainlab.cli."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from trainlab.registry import Entry
from trainlab.spec import KindSchema, RunInput, RunSpec, StudySpec
from trainlab.store import Store
from trainlab.studies.kind import KINDS
from trainlab.studies.train import TrainKind


class WarmStartSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: str = "best"  # of the parent run: init, best, last, epoch:K or step:K


class WarmStartKind(TrainKind):
    """The train kind's grid, then one child per run, trained from the run's checkpoint."""

    schema = KindSchema(section=WarmStartSection, needs_base=True)

    def plan(self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None,
             store: Store | None) -> list[RunSpec]:
        parents = super().plan(study, overrides, only, store)
        offset = max(p.experiment for p in parents)
        children = [RunSpec(p.experiment + offset, p.seed, p.config, p.changes,
                            (RunInput(p.id, study.section.checkpoint),), "warm start of") for p in parents]
        return [*parents, *children]


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """KINDS.register("warm_start", WarmStartKind()), undone when the test ends."""
    monkeypatch.setitem(KINDS._entries, "warm_start", Entry("warm_start", WarmStartKind()))
