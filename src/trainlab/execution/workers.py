"""The worker's side of parallel execution: run one unit of a study, or a pack of units that train
together (trainlab.execution.packing), in another process (a local pool worker, or a Ray task), with a
sink that sends every store event to the driver and waits until the driver has committed it, and a
progress display that the driver draws. The worker writes checkpoints and files under runs/<id>/ itself;
it never opens the store for writing.

Messages to the driver: ("event", event) answered by ("ok",) or ("error", text); ("progress", op, args)
and ("print", text), unanswered. A job ends with a Finish: its units' outcomes, or what it raised.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from rich.markup import escape

from trainlab.errors import TrainlabError
from trainlab.execution.packing import PackSetting
from trainlab.store.events import Event


class Channel(Protocol):
    """What a worker needs of its connection to the driver."""

    def send(self, message: tuple) -> None: ...

    def recv(self) -> tuple: ...


class Serialized:
    """A channel that one thread at a time sends on (phase lines come from trainlab.phases' timer thread,
    and two messages written at once would interleave on the pipe)."""

    def __init__(self, channel: Channel) -> None:
        self.channel, self._lock = channel, threading.Lock()

    def send(self, message: tuple) -> None:
        with self._lock:
            self.channel.send(message)

    def recv(self) -> tuple:
        return self.channel.recv()


class ForwardedPhases(logging.Handler):
    """The worker's phase lines (trainlab.phases), printed by the driver as its own are."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(logging.INFO)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.channel.send(("print", escape(f"trainlab: {record.getMessage()}")))
        except (OSError, EOFError):
            pass  # the driver is gone; the unit's next event says so


class DriverGone(Exception):
    """The driver stopped answering (killed): the worker stops before touching any checkpoint."""


class ChannelSink:
    """A store sink that returns once the driver has committed the event (so a checkpoint is replaced
    only after its epoch's rows are safe, as in one process)."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def __call__(self, event: Event) -> None:
        try:
            self.channel.send(("event", event))
            answer = self.channel.recv()
        except (EOFError, OSError, BrokenPipeError) as err:
            raise DriverGone(str(err)) from None
        if answer[0] == "error":
            raise TrainlabError(answer[1])


class RemoteProgress:
    """The part of rich's Progress that ProgressHook uses, drawn by the driver: steps are counted here and
    sent with each status update (every few dozen steps), not one message per step."""

    def __init__(self, channel: Channel, terminal: bool) -> None:
        self.channel, self.tasks, self._done = channel, {}, {}
        self.console = SimpleNamespace(is_terminal=terminal, print=lambda text: channel.send(("print", str(text))))

    def add_task(self, description: str, total: float, completed: float = 0, **fields: Any) -> int:
        task = len(self.tasks)
        self.tasks[task], self._done[task] = SimpleNamespace(description=description), completed
        self.channel.send(("progress", "add", (task, description, total, completed, fields)))
        return task

    def advance(self, task: int, amount: float = 1) -> None:
        self._done[task] += amount

    def update(self, task: int, **fields: Any) -> None:
        self.channel.send(("progress", "update", (task, self._done[task], fields)))


@dataclass(frozen=True)
class Finish:
    """How a job ended in a worker: `outcomes` (one per unit, in the job's order) when it ran to an end
    (done, diverged, failed by its own error with `reason`), else `raised`: 'user' (a TrainlabError: the
    study must stop), 'interrupted'."""

    outcomes: tuple[Any, ...] = ()
    raised: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Job:
    """Units to run (one, or a pack that trains together), with what their context needs besides the
    worker's own device and data cache."""

    kind: Any  # the units' study kind (pickled by reference to its class)
    units: tuple[Any, ...]
    title: str
    keep: Mapping[str, frozenset[str]]
    store_root: Path
    project_dir: Path | None
    terminal: bool
    progress_every: float
    pack: PackSetting  # --pack, for a pack's runner (auto times it again there)


def run_job(job: Job, channel: Channel, device: Any, data: Any) -> Finish:
    """Run the job's units as the driver would in its own process; every store write goes through
    `channel`."""

    channel = Serialized(channel)
    phases = ForwardedPhases(channel)
    logging.getLogger("trainlab").addHandler(phases)
    logging.getLogger("trainlab").setLevel(logging.INFO)
    try:
        return _run(job, channel, device, data)
    finally:
        logging.getLogger("trainlab").removeHandler(phases)


def _run(job: Job, channel: Channel, device: Any, data: Any) -> Finish:
    from trainlab.execution.units import Context, Outcome

    ctx = Context(
        job.store_root,
        ChannelSink(channel),
        device,
        data,
        job.project_dir,
        progress=RemoteProgress(channel, job.terminal),
        title=job.title,
        keep=job.keep,
        pack=job.pack,
        progress_every=job.progress_every,
    )
    try:
        if len(job.units) == 1:
            return Finish((job.kind.run(job.units[0], ctx),))
        return Finish(tuple(job.kind.run_pack(job.units, ctx)))
    except TrainlabError as err:
        return Finish(raised="user", reason=str(err))
    except KeyboardInterrupt:
        return Finish(raised="interrupted")
    except DriverGone:
        raise
    except Exception as err:  # the runs' own failure: the runner has stored it; the study goes on
        reason = f"{type(err).__name__}: {err}".splitlines()[0]
        return Finish(tuple(Outcome(u.id, u.experiment, u.seed, "failed", reason=reason) for u in job.units))


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when the process that started it dies (a driver killed with
    kill -9 leaves no worker behind training on its own)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the worker stops at its next event, when the driver no longer answers
