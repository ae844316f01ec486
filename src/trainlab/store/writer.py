"""The one writer: applies training events to the store, each in one transaction."""

from __future__ import annotations

from functools import singledispatchmethod

from trainlab.store.db import Store
from trainlab.store.events import (
    ArtifactSaved,
    CheckpointSaved,
    EpochEnded,
    FactsMeasured,
    RunEnded,
    RunNote,
    RunStarted,
    StudyPlanned,
)


class StoreWriter:
    """Call it with each event; it returns once the event is committed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @singledispatchmethod
    def __call__(self, event: object) -> None:
        raise TypeError(f"not a store event: {event!r}")

    @__call__.register
    def _(self, e: StudyPlanned) -> None:
        self.store.save_study(e.name, e.spec, e.members)

    @__call__.register
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

    @__call__.register
    def _(self, e: FactsMeasured) -> None:
        self.store.update_facts(e.run_id, e.facts)

    @__call__.register
    def _(self, e: EpochEnded) -> None:
        self.store.record_epoch(e.run_id, e.rows, e.progress)

    @__call__.register
    def _(self, e: CheckpointSaved) -> None:
        self.store.add_artifact(e.run_id, "checkpoint", f"runs/{e.run_id}/{e.name}")

    @__call__.register
    def _(self, e: RunNote) -> None:
        self.store.add_note(e.run_id, e.text)

    @__call__.register
    def _(self, e: RunEnded) -> None:
        self.store.end_run(e.run_id, e.status, e.rows, e.facts)

    @__call__.register
    def _(self, e: ArtifactSaved) -> None:
        self.store.add_artifact(e.run_id, e.kind, e.path, e.meta)
