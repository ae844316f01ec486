"""Study kinds: each owns its section of the study file, how it expands into units, how one unit runs,
and what it adds to the report. A kind is one module under `studies/` and one `KINDS.register` line;
the API, the CLI and the driver know none by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from rich.console import Console
from rich.progress import Progress

from trainlab.registry import Registry
from trainlab.spec import KindSchema, RunInput, StudySpec
from trainlab.store import Store
from trainlab.store.events import Sink
from trainlab.studies.build import DataCache


class Unit(Protocol):
    """One piece of a study's work: a training run, a landscape of a run, ..."""

    experiment: int
    seed: int
    inputs: tuple[RunInput, ...]  # runs that must be done first

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class PlanLine:
    """One line of `trainlab check`."""

    experiment: int
    seed: int
    id: str
    changes: dict[str, Any]
    params_total: int | None
    params_trainable: int | None
    params_non_embedding: int | None
    status: str
    epochs_done: int
    parent: str | None = None
    relation: str | None = None
    label: str = ""  # the experiment's readable name, as reports show it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What became of one unit in `trainlab run`: done, diverged, failed, skipped (already done),
    blocked (an input diverged or failed; `reason` says which), or held (another process trains it)."""

    id: str
    experiment: int
    seed: int
    status: str
    epochs: int = 0
    files: tuple[Path, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Context:
    """What running a unit needs; everything it writes to the store goes through `sink`."""

    store_root: Path
    sink: Sink
    device: torch.device
    data: DataCache
    project_dir: Path | None = None
    progress: Progress | None = None
    console: Console | None = None
    title: str = ""  # "run 3/12", for the progress display
    keep: Mapping[str, frozenset[str]] = field(default_factory=dict)  # run id -> checkpoints others start from

    def folder(self, run_id: str) -> Path:
        path = self.store_root / "runs" / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path


class StudyKind:
    """The interface of a kind; `train` and `landscape` are the examples to read."""

    schema = KindSchema()  # its own section of the study file, and whether it has a grid of runs

    def plan(self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None,
             store: Store | None) -> list[Unit]:
        """The units of the study, parents before children; nothing is trained or written."""
        raise NotImplementedError

    def describe(self, units: Sequence[Unit], store: Store | None, data: DataCache) -> list[PlanLine]:
        """Their lines in `trainlab check` (builds nothing heavier than a model on the meta device)."""
        raise NotImplementedError

    def preflight(self, units: Sequence[Unit], device: torch.device, data: DataCache) -> list[str]:
        """Checks before any work, raising TrainlabError for what cannot run; returns notes to show."""
        return []

    def status(self, unit: Unit, store: Store) -> str:
        """new, partial, done, diverged or failed, as the store says."""
        row = store.run_row(unit.id)
        return row["status"] if row else "new"

    def members(self, units: Sequence[Unit]) -> list[dict[str, Any]]:
        """The study's rows in the store: which run is each (experiment, seed)."""
        raise NotImplementedError

    def run(self, unit: Unit, ctx: Context) -> Outcome:
        raise NotImplementedError

    def report(self, records: Any, out: Path) -> list[tuple[str, str]]:
        """The (heading, HTML) sections of the study's report page, from its records in the store."""
        raise NotImplementedError


KINDS: Registry[StudyKind] = Registry("kind")


def kind_of(study: StudySpec) -> StudyKind:
    return KINDS.get(study.kind).build


def kind_schemas() -> dict[str, KindSchema]:
    return {entry.name: entry.build.schema for entry in KINDS}
