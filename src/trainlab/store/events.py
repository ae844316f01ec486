"""What training tells the store: a stream of plain, picklable events.

A run's trainer emits them (in this process, a worker process, or a Ray task); one `StoreWriter` in the
driver applies them. Emitting is synchronous: when `sink(event)` returns, the event is committed, so a
trainer replaces its checkpoint only after the epoch's rows are safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MetricRow = tuple[int, int, str, str, float, float]  # step, epoch, split, name, value, wall_s


@dataclass(frozen=True)
class StudyPlanned:
    """A study's spec and its members: which unit is each (experiment, seed); the latest plan wins."""

    name: str
    spec: dict[str, Any]
    members: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RunStarted:
    """A run starts or resumes from `resumed_from_epoch` (rows after it are dropped)."""

    run_id: str
    config: dict[str, Any]
    main_metric: str
    params: dict[str, int]
    device: str
    resumed_from_epoch: int = 0
    facts: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    relation: str | None = None


@dataclass(frozen=True)
class FactsMeasured:
    """Measured facts about a run (FLOPs, memory split, parameters per module), merged into its row."""

    run_id: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class EpochEnded:
    """One epoch's metric rows and the run's new progress (status, epochs_done, best), atomically."""

    run_id: str
    rows: tuple[MetricRow, ...]
    progress: dict[str, Any]


@dataclass(frozen=True)
class PointsLogged:
    """Metric rows of a round still in progress (a tracked run's `log` calls, written in batches)."""

    run_id: str
    rows: tuple[MetricRow, ...]


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint kept for analyses or for runs that start from it (init, best, epoch_K, step_K)."""

    run_id: str
    name: str  # file name inside the run's folder


@dataclass(frozen=True)
class RunNote:
    """Something the user should know about a run: a warning (a damaged checkpoint skipped, ...), or with
    `warning` False a choice explained (why a run trained alone rather than packed)."""

    run_id: str
    text: str
    warning: bool = True


@dataclass(frozen=True)
class RunEnded:
    """A run ends: done (with its test rows), diverged, or failed (with the error)."""

    run_id: str
    status: str
    rows: tuple[MetricRow, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactSaved:
    """A file or folder an analysis wrote for a run (a landscape), relative to the store root."""

    run_id: str
    kind: str
    path: str
    meta: dict[str, Any] = field(default_factory=dict)


Event = (
    StudyPlanned
    | RunStarted
    | FactsMeasured
    | EpochEnded
    | PointsLogged
    | CheckpointSaved
    | RunNote
    | RunEnded
    | ArtifactSaved
)
Sink = Callable[[Event], None]


# The events that belong to one run (all but StudyPlanned), as each run's folder logs them (events.jsonl).
RUN_EVENTS: dict[str, type] = {
    cls.__name__: cls
    for cls in (RunStarted, FactsMeasured, EpochEnded, PointsLogged, CheckpointSaved, RunNote, RunEnded, ArtifactSaved)
}


def to_json(event: Event) -> str:
    """One line of a run's event log: the event's type and fields (NaN and infinities as JSON's NaN tokens)."""
    return json.dumps({"event": type(event).__name__, **asdict(event)}, separators=(",", ":"))


def from_json(line: str) -> Event:
    """The event a log line holds; ValueError (json's, or a KeyError/TypeError turned into it) otherwise."""
    fields = json.loads(line)
    try:
        return RUN_EVENTS[fields.pop("event")](**fields)
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"not a run event: {err}") from None
