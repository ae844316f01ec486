"""What execution needs of a study kind: its units, the context a unit runs in, what became of it, and the
few methods of a kind the driver calls (`Kind`). The kinds themselves live in trainlab.studies; nothing
here knows one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from rich.console import Console
from rich.progress import Progress

from trainlab.execution.packing import PackSetting
from trainlab.execution.progress import PLAIN_EVERY_S
from trainlab.spec import RunInput
from trainlab.store import Store
from trainlab.store.events import Sink
from trainlab.train import checkpoint
from trainlab.train.build import DataCache


class Unit(Protocol):
    """One piece of a study's work: a training run, a landscape of a run, ..."""

    experiment: int
    seed: int
    inputs: tuple[RunInput, ...]  # runs that must be done first

    @property
    def id(self) -> str: ...


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
    command: str = ""  # the command line that ran the study, kept with each run it starts
    keep: Mapping[str, frozenset[str]] = field(default_factory=dict)  # run id -> checkpoints others start from
    pack: PackSetting = PackSetting(1, False)  # --pack: how many runs may train together (1: each alone)
    progress_every: float = PLAIN_EVERY_S  # seconds between progress lines inside an epoch in a log

    def folder(self, run_id: str) -> Path:
        path = self.store_root / "runs" / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def checkpoint_of(self, source: RunInput) -> Path:
        """The file of an input: the other run's checkpoint it names."""
        return self.store_root / "runs" / source.run / checkpoint.file_name(source.checkpoint)


class Kind(Protocol):
    """The part of a study kind (trainlab.studies.kind.StudyKind) that execution calls."""

    def status(self, unit: Any, store: Store) -> str: ...

    def members(self, units: Sequence[Any]) -> list[dict[str, Any]]: ...

    def run(self, unit: Any, ctx: Context) -> Outcome: ...

    def pack_key(self, unit: Any) -> str | None: ...

    def run_pack(self, units: Sequence[Any], ctx: Context) -> list[Outcome]: ...
