"""Run a study's units: skip what is done, wait for inputs, claim each unit in the store before running
it (two drivers never run the same unit; a dead driver's units are taken over), and keep going when one
unit fails. Knows no kind by name: the kind plans and runs each unit.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.markup import escape

from trainlab.errors import TrainlabError
from trainlab.execution.progress import make_progress
from trainlab.execution.units import Context, Kind, Outcome, Unit
from trainlab.spec import StudySpec
from trainlab.store import DONE_STATUSES, Claim, Claims, Store, StoreWriter
from trainlab.store.events import Event, RunNote, StudyPlanned
from trainlab.train.checkpoint import file_name
from trainlab.train.packed import grouped

POLL_S = 2.0  # how often a driver looks again at units that another driver holds
STOPPED = ("blocked", "failed", "diverged")


def checkpoints_needed(units: Sequence[Unit]) -> dict[str, frozenset[str]]:
    """Run id -> the checkpoints that other units start from (they must be kept while it trains)."""
    needed: dict[str, set[str]] = defaultdict(set)
    for unit in units:
        for source in unit.inputs:
            needed[source.run].add(source.checkpoint)
    return {run: frozenset(names) for run, names in needed.items()}


def input_problem(unit: Unit, store: Store, waiting: Collection[str], stopped: Mapping[str, str]) -> str | None:
    """None when every input of `unit` is ready; 'waiting' when one is still to run (its id in
    `waiting`); otherwise why it never will (an input diverged, failed, or kept no such checkpoint)."""
    for source in unit.inputs:
        if source.run in stopped:
            return f"its input run {source.run} {stopped[source.run]}"
        if source.run in waiting:
            return "waiting"
        row = store.run_row(source.run)
        if row is None or row["status"] != "done":
            status = row["status"] if row else "not in the store"
            return (
                f"its input run {source.run} {status}"
                if status in STOPPED
                else f"its input run {source.run} is {status}, and not in this plan"
            )
        if not (store.root / "runs" / source.run / file_name(source.checkpoint)).exists():
            return f"its input run {source.run} kept no {source.checkpoint} checkpoint"
    return None


def startable(units: Iterable[Unit], waiting: Collection[str]) -> list[Unit]:
    """The units none of whose inputs is still in `waiting` (ids): those a pass may group into packs. Grouping
    only these keeps the runs that become ready together in one pack (grouping every waiting unit first cut
    a lottery study's stages at arbitrary places: its two seeds' dense runs trained apart)."""
    return [u for u in units if not any(source.run in waiting for source in u.inputs)]


def packs_in_order(units: Sequence[Unit], key_of: Callable[[Unit], str | None], size: int) -> list[list[Unit]]:
    """The packs (and lone units) that `Driver.run` forms for `units`, in the order it trains them, if every
    run ends done: each pass groups the startable units by key (a lottery level's tickets wait for the runs
    they are pruned from, so they pack with the units that become ready with them)."""
    waiting = {u.id: u for u in units}
    formed: list[list[Unit]] = []
    while waiting:  # ends: a run's id hashes its inputs' ids, so inputs never wait on each other
        groups = grouped(startable(waiting.values(), waiting), key_of, size)
        for unit in (u for group in groups for u in group):
            del waiting[unit.id]
        formed += groups
    return formed


class Sink:
    """The store writer, and the console for what the user should see now (notes)."""

    def __init__(self, store: Store, console: Console | None) -> None:
        self.write, self.console = StoreWriter(store), console

    def __call__(self, event: Event) -> None:
        self.write(event)
        if isinstance(event, RunNote) and self.console:
            label = "[yellow]warning:[/yellow]" if event.warning else "note:"
            self.console.print(f"{label} run {event.run_id}: {escape(event.text)}", soft_wrap=True)


class Driver:
    def __init__(self, kind: Kind, units: Sequence[Unit], store: Store, ctx: Context) -> None:
        self.kind, self.units, self.store, self.ctx = kind, list(units), store, ctx
        self.outcomes: dict[str, Outcome] = {}
        self.stopped: dict[str, str] = {}  # unit id -> blocked, failed or diverged, in this invocation
        self.held: dict[str, str] = {}  # unit id -> the live driver that holds it
        self.position = {u.id: i for i, u in enumerate(self.units, 1)}

    def say(self, text: str, heading: str = "") -> None:
        """One line to the user; `heading` may carry markup, `text` is shown as written."""
        if self.ctx.console:
            self.ctx.console.print(f"{heading}{escape(text)}", soft_wrap=True)

    def run(self, claims: Claims) -> list[Outcome]:
        waiting = {u.id: u for u in self.units}  # by id: a pass over thousands of units stays linear
        keys = self.pack_keys()
        pending = set(waiting)  # units without an outcome yet
        announced: set[str] = set()
        while waiting:
            progressed = False
            # Work items: a unit, or the units of a pack key that are ready together (formed again each pass,
            # so that runs which wait for others pack with the runs that become ready with them)
            for group in grouped(startable(waiting.values(), pending), lambda u: keys.get(u.id), self.ctx.pack.size):
                outcomes = self._attempt(group, pending, claims)
                for outcome in outcomes:
                    self.outcomes[outcome.id] = outcome
                    if outcome.status in STOPPED:
                        self.stopped[outcome.id] = outcome.status
                    pending.discard(outcome.id)
                    del waiting[outcome.id]
                progressed |= bool(outcomes)
            if waiting and not progressed:
                holders = sorted({self.held[i] for i in pending if i in self.held} - announced)
                for holder in holders:
                    self.say(f"waiting for runs that {holder} is training")
                announced.update(holders)
                time.sleep(POLL_S)
        return [self.outcomes[u.id] for u in self.units]

    def _attempt(self, group: list[Unit], pending: Collection[str], claims: Claims) -> list[Outcome]:
        """The outcomes of the group's units that can be settled now (run, done, blocked); the others must wait
        (for an input, or for another driver). The units ready run together when there are several."""
        outcomes, ready = [], []
        for unit in group:
            prepared = self.prepare(unit, pending, claims)
            if isinstance(prepared, Claim):
                ready.append(unit)
            elif prepared is not None:
                outcomes.append(prepared)
        try:
            if len(ready) == 1:
                outcomes.append(self._run(ready[0]))
            elif ready:
                outcomes += self._run_pack(ready)
        finally:
            for unit in ready:
                claims.release(unit.id)
        return outcomes

    def prepare(self, unit: Unit, waiting: Collection[str], claims: Claims) -> Outcome | Claim | None:
        """What to do with a unit now: its outcome when there is nothing to run (done, blocked), None when it
        must wait (for an input, or for another driver), or the claim under which to run it."""
        if (done := self._done(unit)) is not None:
            return done
        problem = input_problem(unit, self.store, waiting, self.stopped)
        if problem == "waiting":
            return None
        if problem:
            self.say(problem, f"[red]run {unit.id} blocked:[/red] ")
            return Outcome(unit.id, unit.experiment, unit.seed, "blocked", reason=problem)
        claim = claims.take(unit.id)
        if not claim.granted:
            self.held[unit.id] = claim.holder or "another process"
            return None
        if (done := self._done(unit)) is not None:  # finished by another driver since we looked
            claims.release(unit.id)
            return done
        if claim.holder:
            self.say(f"run {unit.id}: its holder ({claim.holder}) is gone; resuming it here")
        return claim

    def _done(self, unit: Unit) -> Outcome | None:
        if self.kind.status(unit, self.store) not in DONE_STATUSES:
            return None
        row = self.store.run_row(unit.id)
        return Outcome(unit.id, unit.experiment, unit.seed, "skipped", row["epochs_done"] if row else 0)

    def title(self, unit: Unit) -> str:
        return f"run {self.position[unit.id]}/{len(self.units)}"

    def _run(self, unit: Unit) -> Outcome:
        try:
            return self.kind.run(unit, replace(self.ctx, title=self.title(unit)))
        except (TrainlabError, KeyboardInterrupt):
            raise
        except Exception as err:  # one broken run must not stop a sweep; the store keeps the traceback
            return self.failed(unit, f"{type(err).__name__}: {err}".splitlines()[0])

    def pack_title(self, units: Sequence[Unit]) -> str:
        if len(units) == 1:
            return self.title(units[0])
        numbers = ", ".join(str(self.position[u.id]) for u in units[:4]) + (" ..." if len(units) > 4 else "")
        return f"pack of {len(units)} (runs {numbers})"

    def pack_keys(self) -> dict[str, str | None]:
        """Unit id -> its pack key (none under --pack off: every unit alone)."""
        return {u.id: self.kind.pack_key(u) for u in self.units} if self.ctx.pack.size > 1 else {}

    def _run_pack(self, units: list[Unit]) -> list[Outcome]:
        outcomes = self.kind.run_pack(units, replace(self.ctx, title=self.pack_title(units)))
        for unit, outcome in zip(units, outcomes):
            if outcome.status == "failed":
                self.failed(unit, outcome.reason)
        return outcomes

    def failed(self, unit: Unit, reason: str) -> Outcome:
        self.say(f"{reason} (`trainlab show {unit.id}` has the details)", f"[red]run {unit.id} failed:[/red] ")
        return Outcome(unit.id, unit.experiment, unit.seed, "failed", reason=reason)


def execute(
    kind: Kind,
    study: StudySpec,
    units: Sequence[Unit],
    store: Store,
    ctx: Context,
    driver: Callable[..., Driver] = Driver,
    exclusive: bool = False,
    planned: Sequence[Unit] | None = None,
    as_run: Mapping[str, Any] | None = None,
) -> list[Outcome]:
    """Record the study's plan (`planned`: every unit of the study, when `units` are a selection of them;
    `as_run`: how it was run, its overrides, selection and command line, kept in its spec), then run every
    unit not done yet, with progress on `ctx.console`. `driver` runs the units (this process by
    default; trainlab.execution.parallel for workers, which must then be the store's only driver:
    `exclusive`)."""
    claims = Claims(store.path)
    try:
        claims.register_driver(exclusive)  # refused before anything is written
        spec = {**study.to_dict(), **({"as_run": dict(as_run)} if as_run else {})}
        ctx.sink(StudyPlanned(study.name, spec, tuple(kind.members(planned or units))))
        progress = make_progress(ctx.console) if ctx.console else None
        ctx = replace(ctx, progress=progress, keep=checkpoints_needed(units))
        with progress or nullcontext():
            return driver(kind, units, store, ctx).run(claims)
    finally:
        claims.close()
