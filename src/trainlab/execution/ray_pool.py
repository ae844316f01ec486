"""`trainlab run --executor ray`: each unit a Ray task on a Ray cluster (the optional extra `ray`).

Tasks send their store events to the driver through a small mailbox actor pinned to the driver's node,
and wait for the driver's answer, as pool workers do through a pipe; the driver stays the store's one
writer. Tasks write checkpoints under runs/<id>/ themselves, so every node must see the store folder at
the same path (a shared filesystem); a task on a node that does not stops the study with a clear line.
Ray's own retries are off: a task lost with its worker or node comes back to the driver as a crash, and
the driver retries it from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import TrainlabError
from trainlab.execution.ray_mailbox import Mailbox
from trainlab.execution.workers import DriverGone, Finish, Job, run_job

CONNECT_TIMEOUT_S = 3.0
SHARED_MARK = ".trainlab-shared"  # written by the driver in the store; a task that cannot read it is elsewhere


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise TrainlabError("--executor ray needs Ray: pip install -e '.[ray]' (or pip install 'ray>=2.9')") from None
    return ray


def parse_resources(text: str | None) -> dict[str, float]:
    """--resources '{"GPU": 1, "CPU": 2}': what each run asks of a node."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise TrainlabError(f"--resources: not JSON ({err.msg}); e.g. --resources '{{\"GPU\": 1}}'") from None
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) and v >= 0 for v in value.values()):
        raise TrainlabError(f'--resources: expected an object of non-negative amounts, e.g. {{"GPU": 1}} (got {text})')
    return {str(k): float(v) for k, v in value.items()}


def _reachable(address: str) -> None:
    """Fail within seconds, not minutes, when the cluster's address does not answer."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise TrainlabError(f"--address: expected auto, HOST:PORT or ray://HOST:PORT (got {address!r})")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise TrainlabError(
            f"--address {address}: cannot reach {host}:{port} ({err.strerror or err}); "
            "is the Ray head running there (`ray start --head`)?"
        ) from None


def connect(ray: Any, address: str | None) -> None:
    """Join the cluster at `address` (auto: the one running on this machine), or start a local one."""
    if address not in (None, "auto"):
        _reachable(address)
    try:
        ray.init(
            address=address,
            log_to_driver=False,
            logging_level=logging.WARNING,
            include_dashboard=False,
            ignore_reinit_error=True,
        )
    except ConnectionError as err:
        raise TrainlabError(
            f"--address {address}: no Ray cluster found ({str(err).splitlines()[0]}); start one with "
            "`ray start --head`, or leave out --address for a cluster of this machine alone"
        ) from None


def request(resources: dict[str, float], device: torch.device) -> dict[str, Any]:
    """Ray task options for one run: CPUs (1 by default), GPUs (1 when training on CUDA), custom resources."""
    rest = dict(resources)
    cpus, gpus = rest.pop("CPU", 1.0), rest.pop("GPU", 1.0 if device.type == "cuda" else 0.0)
    return {"num_cpus": cpus, "num_gpus": gpus, "resources": rest, "max_retries": 0}


def slots(ray: Any, options: dict[str, Any]) -> int:
    """How many runs fit on the cluster at once; refuses a request that no node can ever meet."""
    want = {"CPU": options["num_cpus"], "GPU": options["num_gpus"], **options["resources"]}
    fits = []
    for node in (n for n in ray.nodes() if n.get("Alive")):
        have = node.get("Resources", {})
        per = [have.get(k, 0.0) // v for k, v in want.items() if v > 0]
        fits.append(int(min(per)) if per else 8)
    if not any(fits):
        offered = "; ".join(
            json.dumps({k: v for k, v in n.get("Resources", {}).items() if not k.startswith("node:")})
            for n in ray.nodes()
            if n.get("Alive")
        )
        raise TrainlabError(
            f"--resources: no node of the cluster has {json.dumps(want)} for one run (nodes offer: {offered})"
        )
    return sum(fits)


class MailboxChannel:
    """A task's channel to the driver through the mailbox: it sends under its job's key and reads its answers
    from its own box (events wait for the answer)."""

    def __init__(self, ray: Any, mailbox: Any, key: str, box: str) -> None:
        self.ray, self.mailbox, self.key, self.box = ray, mailbox, key, box

    def send(self, message: tuple) -> None:
        self.mailbox.put.remote("driver", (self.key, message))

    def recv(self) -> tuple:
        try:
            while True:
                answers = self.ray.get(self.mailbox.take.remote(self.box, 60.0))
                if answers:
                    return answers[0]
        except self.ray.exceptions.RayError as err:
            raise DriverGone(str(err)) from None


_DATA: Any = None  # datasets loaded by this Ray worker process, kept for the next task it runs


def _task(key: str, box: str, job: Job, mailbox: Any, threads: int) -> Finish:
    import ray

    global _DATA
    from trainlab.train.build import DataCache

    if not (job.store_root / SHARED_MARK).exists():
        return Finish(
            raised="user",
            reason=f"--executor ray: node {socket.gethostname()} does not see the store at "
            f"{job.store_root}; every node must reach the store at the same path (a shared filesystem)",
        )
    torch.set_num_threads(threads)
    _DATA = _DATA or DataCache()
    device = torch.device("cuda" if ray.get_gpu_ids() else "cpu")
    return run_job(job, MailboxChannel(ray, mailbox, key, box), device, _DATA)


class RayExecutor:
    """The executor of Ray tasks (see trainlab.execution.parallel for the interface)."""

    def __init__(
        self, address: str | None, resources: dict[str, float], device: torch.device, store_root: Path, most: int | None
    ) -> None:
        ray = self.ray = import_ray()
        connect(ray, address)
        self.options = request(resources, device)
        try:
            self.slots = min(slots(ray, self.options), most or 10**6)
        except TrainlabError:
            ray.shutdown()
            raise
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.mailbox = ray.remote(num_cpus=0)(Mailbox).options(scheduling_strategy=here).remote()
        self.task = ray.remote(_task)
        self.store_root = store_root
        self.refs: dict[str, Any] = {}
        self.boxes: dict[str, str] = {}  # job key -> the box its current task reads its answers from

    def describe(self) -> str:
        nodes = sum(1 for n in self.ray.nodes() if n.get("Alive"))
        return (
            f"a Ray cluster of {nodes} node{'s' if nodes > 1 else ''} ({self.slots} runs at once, each "
            f"{self.options['num_cpus']:g} CPU, {self.options['num_gpus']:g} GPU)"
        )

    def free(self) -> bool:
        return len(self.refs) < self.slots

    def start(self, key: str, job: Job) -> None:
        mark = self.store_root / SHARED_MARK
        if not mark.exists():
            mark.write_text(uuid.uuid4().hex)
        # Each task reads its answers from a box of its own. A retried job keeps its key, and an answer sent to
        # a task lost after asking, left in a box keyed by the job, would be read by the retry as the answer to
        # its first event, and every later answer one event late. (Emptying that box before the retry would
        # not do: Ray does not keep the order of an async actor's calls.)
        box = self.boxes[key] = f"{key}-{uuid.uuid4().hex[:8]}"
        threads = max(1, int(self.options["num_cpus"]))
        options = {k: v for k, v in self.options.items() if k != "resources" or v}
        self.refs[key] = self.task.options(**options).remote(key, box, job, self.mailbox, threads)

    def poll(self, timeout: float) -> list[tuple[str, tuple]]:
        out = [tuple(m) for m in self.ray.get(self.mailbox.take.remote("driver", timeout if self.refs else 0.0))]
        if not self.refs:
            return out
        ready, _ = self.ray.wait(list(self.refs.values()), num_returns=len(self.refs), timeout=0)
        for key, ref in [(k, r) for k, r in self.refs.items() if r in ready]:
            del self.refs[key]
            out.append((key, self._result(ref)))
        return out

    def _result(self, ref: Any) -> tuple:
        try:
            return ("finish", self.ray.get(ref))
        except self.ray.exceptions.RayTaskError as err:  # raised by the task's own code, around the run
            return ("finish", Finish(raised="user", reason=f"a Ray task failed: {str(err).splitlines()[0]}"))
        except self.ray.exceptions.RayError as err:  # its worker or node died, or the object was lost
            return ("crashed", f"its Ray task was lost ({type(err).__name__})")

    def answer(self, key: str, reply: tuple) -> None:
        self.mailbox.put.remote(self.boxes[key], reply)

    def close(self, interrupted: bool) -> None:
        for ref in self.refs.values():
            self.ray.cancel(ref, force=True)
        self.ray.shutdown()
