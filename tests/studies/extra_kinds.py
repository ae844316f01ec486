"""Study kinds written in the tests only, registered while a test needs them: what a new kind costs (a
class, a registration, nothing in trainlab.api, trainlab.cli or the trainer).

`warm_start`: each run of the grid is followed by a run that starts from its checkpoint ("warm start of").
`scaled_start`: every run starts from its own initialisation scaled by `factor`, through the trainer's one
extension point for starting weights (`Start`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel, ConfigDict

from trainlab.execution.runner import Start, Started, train_run
from trainlab.execution.units import Context, Outcome
from trainlab.registry import Entry
from trainlab.spec import KindSchema, RunInput, RunSpec, StudySpec
from trainlab.store import Store
from trainlab.studies.kind import KINDS
from trainlab.studies.train import TrainKind
from trainlab.train import Loop


class WarmStartSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: str = "best"  # of the parent run: init, best, last, epoch:K or step:K


class WarmStartKind(TrainKind):
    """The train kind's grid, then one child per run, trained from the run's checkpoint."""

    schema = KindSchema(section=WarmStartSection, needs_base=True, key="warm_start")

    def plan(
        self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None, store: Store | None
    ) -> list[RunSpec]:
        parents = super().plan(study, overrides, only, store)
        offset = max(p.experiment for p in parents)
        children = [
            RunSpec(
                p.experiment + offset,
                p.seed,
                p.config,
                p.changes,
                (RunInput(p.id, study.section.checkpoint),),
                "warm start of",
            )
            for p in parents
        ]
        return [*parents, *children]


@dataclass(frozen=True)
class Scale:
    """The recipe part of a scaled run (hashed into its id)."""

    factor: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ScaledStartSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    factor: float = 0.5


class ScaleWeights(Start):
    """The model's own initialisation, every parameter multiplied by the run's factor."""

    def fresh(self, run: RunSpec, loop: Loop, ctx: Context, folder: Path) -> Started:
        with torch.no_grad():
            for p in loop.model.parameters():
                p.mul_(run.recipe["scale"].factor)
        return Started(facts={"scaled_by": run.recipe["scale"].factor})


class ScaledStartKind(TrainKind):
    """The train kind's grid, each run started from its initialisation scaled by `factor`."""

    schema = KindSchema(section=ScaledStartSection, needs_base=True)

    def plan(
        self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None, store: Store | None
    ) -> list[RunSpec]:
        runs = super().plan(study, overrides, only, store)
        return [replace(r, recipe={"scale": Scale(study.section.factor)}) for r in runs]

    def run(self, unit: RunSpec, ctx: Context) -> Outcome:
        return train_run(unit, ctx, ScaleWeights())


EXTRA = {"warm_start": WarmStartKind(), "scaled_start": ScaledStartKind()}


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
