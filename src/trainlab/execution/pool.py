"""`trainlab run --workers N`: up to N units at once, each in a worker process of this machine.

Workers are started once (spawn: a clean interpreter, safe with CUDA and threads) and take one job after
another, so imports and loaded datasets are paid once per worker. On CPU the driver's torch threads are
split between them (N workers on 8 threads: 8 // N each, at least one); with GPUs, worker k trains on GPU
k mod (number of GPUs). A worker that dies is replaced; what it was running is reported as crashed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

import torch

from trainlab.execution.workers import DriverGone, Job, die_with_parent, run_job
from trainlab.exiting import skip_final_collections

STOP_TIMEOUT_S = 30.0  # how long Ctrl-C waits for a worker to leave its run resumable before killing it


def worker_devices(device: torch.device, workers: int) -> list[str]:
    """The device of each worker: its own GPU in turn when training on CUDA, else the CPU."""
    if device.type == "cuda":
        count = torch.cuda.device_count()
        return [f"cuda:{k % count}" for k in range(workers)]
    return ["cpu"] * workers


def threads_per_worker(workers: int) -> int:
    return max(1, torch.get_num_threads() // workers)


def _serve(conn: Connection, device_name: str, threads: int) -> None:
    """A worker process: run the units the driver sends until it says stop or goes away."""
    die_with_parent()
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _run_units(conn, device)
    skip_final_collections()  # the driver waits for its workers to exit


def _run_units(conn: Connection, device: torch.device) -> None:
    from trainlab.train.build import DataCache

    data = DataCache()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message[0] == "stop":
            return
        if message[0] != "job":  # a late answer to a unit that was interrupted while it asked
            continue
        try:
            finish = run_job(message[1], conn, device, data)
            conn.send(("finish", finish))
        except (DriverGone, OSError, KeyboardInterrupt):
            return


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    job: str | None = None  # the key of the job it runs
    finished: bool = field(default=False)  # its unit's Finish has arrived


class LocalPool:
    """The executor of local worker processes (see trainlab.execution.parallel for the interface)."""

    def __init__(self, workers: int, device: torch.device) -> None:
        self.slots = workers
        self._devices = worker_devices(device, workers)
        self._threads = threads_per_worker(workers)
        self._context = mp.get_context("spawn")
        self._workers: list[_Worker | None] = [None] * workers

    def describe(self) -> str:
        where = ", ".join(sorted(set(self._devices)))
        return f"{self.slots} worker processes ({where}, {self._threads} torch threads each)"

    def free(self) -> bool:
        return any(w is None or w.job is None for w in self._workers)

    def start(self, key: str, job: Job) -> None:
        slot = next(i for i, w in enumerate(self._workers) if w is None or w.job is None)
        worker = self._workers[slot]
        if worker is None or not worker.process.is_alive():
            worker = self._workers[slot] = self._spawn(slot)
        worker.job, worker.finished = key, False
        worker.conn.send(("job", job))

    def _spawn(self, slot: int) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve, args=(child, self._devices[slot], self._threads), name=f"trainlab-worker-{slot}", daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def poll(self, timeout: float) -> list[tuple[str, tuple]]:
        """Messages from the running units, in order, and ('crashed', why) for a worker that died in one."""
        busy = [w for w in self._workers if w is not None and w.job is not None]
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)) if busy else set()
        out = []
        for worker in busy:
            key = worker.job
            out += [(key, m) for m in self._drain(worker)]
            if worker.finished:
                worker.job = None
            elif worker.process.sentinel in ready or not worker.process.is_alive():
                worker.process.join(1)
                out.append(
                    (
                        key,
                        ("crashed", f"its worker (pid {worker.process.pid}) died, exit code {worker.process.exitcode}"),
                    )
                )
                self._workers[self._workers.index(worker)] = None
        return out

    def _drain(self, worker: _Worker) -> list[tuple]:
        messages = []
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                worker.finished = worker.finished or message[0] == "finish"
                messages.append(message)
        except (EOFError, OSError):
            pass  # it died: the sentinel tells
        return messages

    def answer(self, key: str, reply: tuple) -> None:
        # A worker that died after asking is gone from its slot once the poll that read its question
        # reported the crash, which the driver handles after the question: nobody is left to answer.
        worker = next((w for w in self._workers if w is not None and w.job == key), None)
        if worker is None:
            return
        try:
            worker.conn.send(reply)
        except OSError:
            pass  # it died after asking: poll reports the crash

    def close(self, interrupted: bool) -> None:
        """Stop every worker. After Ctrl-C each running unit is interrupted first: it stops where it is and
        keeps its last checkpoint (a checkpoint being written is finished first)."""
        alive = [w for w in self._workers if w is not None and w.process.is_alive()]
        if interrupted:
            for worker in alive:
                if worker.job is not None:
                    os.kill(worker.process.pid, signal.SIGINT)
        for worker in alive:
            try:
                worker.conn.send(("stop",))
            except OSError:
                pass
        for worker in alive:
            worker.process.join(STOP_TIMEOUT_S)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
