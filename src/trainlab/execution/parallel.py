"""Run a study's units on several workers at once (a local process pool, or Ray tasks) with the same
store, resume and skip semantics as one process: the driver claims each unit, hands it (or a pack of units
that train together, --pack) to a free worker, applies every event the worker sends (the store keeps one
writer: this process) and answers once it is committed. A unit whose worker dies (killed, out of memory, a
lost node) is retried from its last checkpoint, with the rest of its pack, at most `retries` times; a unit
that fails by itself (an error in its run, divergence) is not.

An executor offers: `slots` and `free()`; `start(key, job)`; `poll(timeout)` -> [(key, message)] with the
worker's messages (trainlab.execution.workers), ("finish", Finish) when its job ended and ("crashed", why)
when its worker died; `answer(key, reply)`; `close(interrupted)`.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from trainlab.errors import TrainlabError
from trainlab.execution.driver import STOPPED, Driver, startable
from trainlab.execution.units import Outcome, Unit
from trainlab.execution.workers import Finish, Job
from trainlab.store import Claim, Claims
from trainlab.train.packed import grouped

POLL_S = 0.5


class Executor(Protocol):
    slots: int

    def describe(self) -> str: ...

    def free(self) -> bool: ...

    def start(self, key: str, job: Job) -> None: ...

    def poll(self, timeout: float) -> list[tuple[str, tuple]]: ...

    def answer(self, key: str, reply: tuple) -> None: ...

    def close(self, interrupted: bool) -> None: ...


class ParallelDriver(Driver):
    """The units, or packs of units (--pack: those of one pack key ready together, split so that every
    worker gets a pack), each a job of one worker. A job's key is its first unit's id."""

    def __init__(self, *args: Any, executor: Executor, retries: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.executor, self.retries = executor, retries
        self.attempts: dict[str, int] = {}
        self._tasks: dict[tuple[str, int], Any] = {}  # (job, worker's task) -> this display's task

    def run(self, claims: Claims) -> list[Outcome]:
        self.say(f"training on {self.executor.describe()}")
        waiting = {u.id: u for u in self.units}
        running: dict[str, list[Unit]] = {}  # job key -> its units
        keys = self.pack_keys()
        interrupted = False
        try:
            while waiting:
                self._start_ready(waiting, running, keys, claims)
                if not running:
                    if waiting:  # what is left waits for another driver's claims: look again later
                        time.sleep(POLL_S)
                    continue
                for key, message in self.executor.poll(POLL_S):
                    if key not in running:  # a progress line that arrived after its job ended
                        continue
                    outcomes = self._handle(key, message, running[key])
                    if outcomes is None:
                        continue
                    for unit in running.pop(key):
                        claims.release(unit.id)
                    for outcome in outcomes:
                        if outcome.status != "retry":
                            self._finish(outcome, waiting)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            self.executor.close(interrupted)
        return [self.outcomes[u.id] for u in self.units]

    def _start_ready(
        self, waiting: dict[str, Unit], running: dict[str, list[Unit]], keys: dict[str, str | None], claims: Claims
    ) -> None:
        busy = {u.id for units in running.values() for u in units}
        idle = [u for u in startable(waiting.values(), waiting) if u.id not in busy]
        for group in grouped(idle, lambda u: keys.get(u.id), self.ctx.pack.size, self.executor.slots):
            if not self.executor.free():
                return
            ready = []
            for unit in group:
                prepared = self.prepare(unit, waiting.keys(), claims)
                if isinstance(prepared, Claim):
                    ready.append(unit)
                elif prepared is not None:
                    self._finish(prepared, waiting)
            if ready:
                for unit in ready:
                    self.attempts[unit.id] = self.attempts.get(unit.id, 0) + 1
                self.executor.start(ready[0].id, self._job(ready))
                running[ready[0].id] = ready

    def _job(self, units: list[Unit]) -> Job:
        console = self.ctx.console
        return Job(
            self.kind,
            tuple(units),
            self.pack_title(units),
            self.ctx.keep,
            self.ctx.store_root,
            self.ctx.project_dir,
            bool(console and console.is_terminal),
            self.ctx.progress_every,
            self.ctx.pack,
        )

    def _finish(self, outcome: Outcome, waiting: dict[str, Unit]) -> None:
        self.outcomes[outcome.id] = outcome
        if outcome.status in STOPPED:
            self.stopped[outcome.id] = outcome.status
        waiting.pop(outcome.id, None)

    def _handle(self, key: str, message: tuple, units: list[Unit]) -> list[Outcome] | None:
        """Apply one message; the outcomes of the job's units when it ended (status 'retry' for a unit that
        is to run again)."""
        what = message[0]
        if what == "event":
            try:
                self.ctx.sink(message[1])
            except TrainlabError as err:  # a full disk: the worker stops, and so does the study
                self.executor.answer(key, ("error", str(err)))
                raise
            self.executor.answer(key, ("ok",))
        elif what == "progress":
            self._progress(key, *message[1:])
        elif what == "print" and self.ctx.console:  # a line of the worker's progress hook, markup as in one process
            self.ctx.console.print(message[1], soft_wrap=True)
        elif what == "finish":
            return self._finished(units, message[1])
        elif what == "crashed":
            return [self._crashed(unit, message[1]) for unit in units]
        return None

    def _finished(self, units: list[Unit], finish: Finish) -> list[Outcome]:
        if finish.raised == "user":
            raise TrainlabError(finish.reason)
        if finish.raised == "interrupted":
            raise KeyboardInterrupt
        for unit, outcome in zip(units, finish.outcomes):
            if outcome.status == "failed":
                self.failed(unit, outcome.reason)
        return list(finish.outcomes)

    def _crashed(self, unit: Unit, why: str) -> Outcome:
        """A unit whose worker died (with the rest of its pack) is retried from its last checkpoint."""
        tries = self.attempts[unit.id]
        if tries <= self.retries:
            self.say(
                f"{why}; retrying it from its last checkpoint (attempt {tries + 1} of {self.retries + 1})",
                f"[yellow]run {unit.id}:[/yellow] ",
            )
            return Outcome(unit.id, unit.experiment, unit.seed, "retry")
        return self.failed(unit, f"{why}, {tries} times; not retried again (--retries {self.retries})")

    def _progress(self, key: str, op: str, args: tuple) -> None:
        progress = self.ctx.progress
        if progress is None:
            return
        if op == "add":
            task, description, total, completed, fields = args
            self._tasks[key, task] = progress.add_task(description, total=total, completed=completed, **fields)
        elif op == "update" and (key, args[0]) in self._tasks:
            _, completed, fields = args
            progress.update(self._tasks[key, args[0]], completed=completed, **fields)


def make_executor(
    name: str, workers: int | None, device: Any, address: str | None, resources: str | None, store_root: Any
) -> Executor | None:
    """The executor `trainlab run` asked for; None to train in this process (one worker, the default)."""
    if name == "local":
        if address or resources:
            raise TrainlabError(f"--{'address' if address else 'resources'}: only with --executor ray")
        from trainlab.execution.pool import LocalPool

        return LocalPool(workers, device) if workers and workers > 1 else None
    from trainlab.execution.ray_pool import RayExecutor, parse_resources

    return RayExecutor(address, parse_resources(resources), device, store_root, workers)


def check_executor(name: str, workers: int | None, retries: int) -> None:
    """Bad executor options fail before any work."""
    if name not in ("local", "ray"):
        raise TrainlabError(f"--executor: unknown {name!r}; valid: local, ray")
    if workers is not None and workers < 1:
        raise TrainlabError(f"--workers: must be at least 1 (got {workers})")
    if retries < 0:
        raise TrainlabError(f"--retries: must be 0 or more (got {retries})")
