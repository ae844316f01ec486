"""The one writer: applies training events to the store, each in one transaction."""

from __future__ import annotations

from functools import singledispatchmethod

from trainlab.store.db import Store
from trainlab.store.events import (
    ArtifactSaved,
    CheckpointSaved,
    EpochEnded,
    Event,
    FactsMeasured,
    PointsLogged,
    RunEnded,
    RunNote,
    RunStarted,
    StudyPlanned,
    to_json,
)


class StoreWriter:
    """Call it with each event; it returns once the event is committed, and, for a run's event, appended to
    that run's log (runs/<id>/events.jsonl), from which the run's records can be rebuilt (`store.rebuild`)
    should store.sqlite be lost. `log=False` applies events without logging them (a rebuild)."""

    def __init__(self, store: Store, log: bool = True) -> None:
        self.store, self.log = store, log

    def __call__(self, event: Event) -> None:
        self.apply(event)
        if self.log and not isinstance(event, StudyPlanned):
            self.store.log_event(event.run_id, to_json(event))

    @singledispatchmethod
    def apply(self, event: object) -> None:
        raise TypeError(f"not a store event: {event!r}")

    @apply.register
    def _(self, e: StudyPlanned) -> None:
        self.store.save_study(e.name, e.spec, e.members)

    @apply.register
    def _(self, e: RunStarted) -> None:
        self.store.start_run(
            e.run_id,
            e.config,
            e.main_metric,
            e.params,
            e.device,
            e.resumed_from_epoch,
            e.facts,
            e.parent_id,
            e.relation,
        )

    @apply.register
    def _(self, e: FactsMeasured) -> None:
        self.store.update_facts(e.run_id, e.facts)

    @apply.register
    def _(self, e: EpochEnded) -> None:
        self.store.record_epoch(e.run_id, e.rows, e.progress)

    @apply.register
    def _(self, e: PointsLogged) -> None:
        self.store.record_epoch(e.run_id, e.rows, {})

    @apply.register
    def _(self, e: CheckpointSaved) -> None:
        self.store.add_artifact(e.run_id, "checkpoint", f"runs/{e.run_id}/{e.name}")

    @apply.register
    def _(self, e: RunNote) -> None:
        self.store.add_note(e.run_id, e.text)

    @apply.register
    def _(self, e: RunEnded) -> None:
        self.store.end_run(e.run_id, e.status, e.rows, e.facts)

    @apply.register
    def _(self, e: ArtifactSaved) -> None:
        self.store.add_artifact(e.run_id, e.kind, e.path, e.meta)
