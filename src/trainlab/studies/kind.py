"""The interface of a study kind: it owns its section of the study file, how the study expands into units,
how one unit runs, and what it adds to the report. A kind is one package under `studies/` that calls
`KINDS.register`; the API, the CLI and the driver know none by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import TrainlabError
from trainlab.execution.units import Context, Outcome, Unit
from trainlab.registry import Entry, Registry
from trainlab.spec import KindSchema, StudySpec
from trainlab.spec.plugin import source_digest
from trainlab.store import Store
from trainlab.train.build import DataCache


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


class StudyKind:
    """The interface of a kind; `train` and `landscape` are the examples to read."""

    schema = KindSchema()  # its own section of the study file, and whether it has a grid of runs

    def plan(
        self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None, store: Store | None
    ) -> list[Unit]:
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

    def pack_key(self, unit: Unit) -> str | None:
        """What units that may train together (`run_pack`) share (trainlab.execution.packing); None: the unit
        trains alone, as every unit does by default."""
        return None

    def why_alone(self, unit: Unit) -> str:
        """Why `pack_key` is None for the unit, for `trainlab check`."""
        return "its study kind trains each unit alone"

    def run_pack(self, units: Sequence[Unit], ctx: Context) -> list[Outcome]:
        """Train units of one `pack_key` together; only kinds with a pack_key need it."""
        raise NotImplementedError

    def report(self, records: Any, section: Any, out: Path) -> list[tuple[str, str]]:
        """The (heading, HTML) sections of the study's report page, from its records in the store and its
        section (validated by `schema.section`; None for a kind without one)."""
        raise NotImplementedError

    def page(self, records: Any, out: Path) -> list[tuple[str, str]]:
        """`report` with the section as the store recorded the study (reports read only the store)."""
        if self.schema.section is None:
            return self.report(records, None, out)
        spec = records.spec
        key = self.schema.key or spec.get("kind", "train")
        return self.report(records, self.schema.section.model_validate(spec.get(key) or {}), out)


def kind_plugin(name: str, target: Any, own: Any = None) -> Entry[StudyKind]:
    """A kind from the user's code (an import path, an entry point of group `trainlab.kinds`, or
    `trainlab.register_kind`): a StudyKind subclass or instance."""
    kind = target() if isinstance(target, type) and issubclass(target, StudyKind) else target
    if not isinstance(kind, StudyKind):
        raise TrainlabError(f"kind {name!r}: {target!r} is not a trainlab.studies.kind.StudyKind (or subclass)")
    return Entry(name, kind, source=source_digest(type(kind)))


KINDS: Registry[StudyKind] = Registry("kind", "trainlab.kinds", kind_plugin)


def kind_of(study: StudySpec) -> StudyKind:
    return KINDS.get(study.kind).build


class _Schemas(Mapping[str, KindSchema]):
    """Every kind's schema, its plugins' looked up when a study names them."""

    def __getitem__(self, name: str) -> KindSchema:
        entry = KINDS.find(name)
        if entry is None:
            raise KeyError(name)
        return entry.build.schema

    def __iter__(self) -> Iterator[str]:
        return iter(KINDS.names())

    def __len__(self) -> int:
        return len(KINDS.names())


def kind_schemas() -> Mapping[str, KindSchema]:
    return _Schemas()
