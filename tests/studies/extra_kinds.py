"""Study kinds written in the tests only, registered while a test needs them. `warm_start`: each run of
the grid is followed by a run that starts from its checkpoint ("warm start of"). It is what a new kind
costs: one module, one registration line, nothing in trainlab.api or trainlab.cli."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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


EXTRA = {"warm_start": WarmStartKind()}


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind here in KINDS, undone when the test ends."""
    for name, kind in EXTRA.items():
        monkeypatch.setitem(KINDS._entries, name, Entry(name, kind))


@contextmanager
def registered() -> Iterator[None]:
    """Every kind here in KINDS for the block (the session's trained stores are made outside any test)."""
    with pytest.MonkeyPatch.context() as patch:
        register(patch)
        yield
