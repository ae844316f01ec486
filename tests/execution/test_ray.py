"""--executor ray on a local two-node Ray cluster started by the test (ray.cluster_utils.Cluster): results
identical to one process, a lost node's run retried on the other, and the cluster's bad inputs."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from rich.console import Console

from tests.conftest import write_study
from tests.execution.test_parallel import metrics, valid_epochs
from trainlab.api import run_study
from trainlab.errors import TrainlabError

ray = pytest.importorskip("ray", reason="Ray not installed (pip install -e '.[ray]')")
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster():
    """A head node and a worker node of one CPU each, on this machine."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


def test_ray_results_equal_one_process(cluster, tmp_path: Path) -> None:  # noqa: ANN001
    """Each run a Ray task of one CPU (one torch thread): bit-identical metrics to one process on one thread."""
    study = write_study(tmp_path, runs=[{}, {"optim.name": "adam", "optim.lr": 0.01}])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_study(study, store=tmp_path / "alone")
    finally:
        torch.set_num_threads(threads)
    outcomes = run_study(study, store=tmp_path / "ray", executor="ray", address=cluster.address)
    assert [o.status for o in outcomes] == ["done", "done"]
    alone, remote = metrics(tmp_path / "alone"), metrics(tmp_path / "ray")
    assert len(alone) == 2 * 25 and alone.index.equals(remote.index) and (alone == remote).all()


def test_ray_trains_packs_as_one_process_does(cluster, tmp_path: Path) -> None:  # noqa: ANN001
    """--pack 2: each Ray task trains a pack of two runs; bit-identical metrics to the same packs in one
    process on one thread."""
    study = write_study(tmp_path, runs=[{}, {"optim.lr": 0.05}], seeds=[0, 1])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_study(study, store=tmp_path / "alone", pack=2)
    finally:
        torch.set_num_threads(threads)
    console = Console(file=io.StringIO(), width=200)
    outcomes = run_study(
        study, store=tmp_path / "ray", executor="ray", address=cluster.address, pack=2, console=console
    )
    assert [o.status for o in outcomes] == ["done"] * 4
    assert "pack of 2 (runs 1, 2)" in console.file.getvalue() and "pack of 2 (runs 3, 4)" in console.file.getvalue()
    alone, remote = metrics(tmp_path / "alone"), metrics(tmp_path / "ray")
    assert len(alone) == 4 * 25 and alone.index.equals(remote.index) and (alone == remote).all()


def test_a_lost_node_s_run_is_retried_from_its_checkpoint(cluster, tmp_path: Path) -> None:  # noqa: ANN001
    """The worker node is removed while it trains: its run comes back as lost, is retried on the head node
    from its last checkpoint, and every epoch is stored once."""
    study = write_study(tmp_path, runs=[{}, {"optim.lr": 0.2}])
    db = tmp_path / "store" / "store.sqlite"
    worker = next(n for n in cluster.worker_nodes)

    def remove_worker_after_progress() -> None:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                with sqlite3.connect(db, timeout=5) as con:
                    if con.execute(
                        "SELECT COUNT(*) FROM runs WHERE epochs_done >= 2 AND status = 'partial'"
                    ).fetchone()[0]:
                        cluster.remove_node(worker)
                        return
            except sqlite3.OperationalError:
                pass
            time.sleep(0.05)

    killer = threading.Thread(target=remove_worker_after_progress)
    killer.start()
    outcomes = run_study(study, {"train.epochs": 15, "data.n": 2000}, executor="ray", address=cluster.address)
    killer.join()
    cluster.add_node(num_cpus=1)  # as it was, for the tests after this one
    assert [o.status for o in outcomes] == ["done", "done"]
    epochs = valid_epochs(tmp_path / "store")
    assert len(epochs) == 2 * 15 and not epochs.duplicated().any()


def test_a_retried_job_does_not_read_the_answer_meant_for_its_lost_task(cluster, tmp_path: Path) -> None:  # noqa: ANN001
    """A job's task is lost after an event, which the driver then answers; the job retried under the same key
    must not find that answer among its own (else it would take it as the answer to its first event). The
    job here is one whose task stops at once (its store is not the one the driver shares), so that no task
    takes from the boxes while the test looks."""
    from trainlab.execution.ray_pool import RayExecutor

    (tmp_path / "store").mkdir()
    executor = RayExecutor(cluster.address, {}, torch.device("cpu"), tmp_path / "store", None)
    job = SimpleNamespace(store_root=tmp_path / "elsewhere")

    def finish() -> tuple:
        deadline, finished = time.time() + 60, []
        while not finished and time.time() < deadline:
            finished = [m for key, m in executor.poll(1.0) if key == "run-1" and m[0] in ("finish", "crashed")]
        assert finished, "the task did not end within 60 s"
        return finished[0]

    try:
        executor.start("run-1", job)
        finish()
        executor.answer("run-1", ("ok",))  # to the task that has ended: the answer it did not wait for
        executor.start("run-1", job)  # the retry
        assert ray.get(executor.mailbox.take.remote(executor.boxes["run-1"], 0.5)) == []
        assert "does not see the store" in finish()[1].reason
    finally:
        executor.close(interrupted=False)


def test_resources_no_node_has_are_refused(cluster, tiny_study: Path) -> None:  # noqa: ANN001
    """Asking a GPU of a CPU cluster fails at once, naming what the nodes offer."""
    with pytest.raises(TrainlabError, match=r'--resources: no node of the cluster has \{"CPU": 1.0, "GPU": 1.0\}'):
        run_study(tiny_study, executor="ray", address=cluster.address, resources='{"GPU": 1}')


def test_an_unreachable_address_fails_within_seconds(tiny_study: Path) -> None:
    """Nothing listens on port 1: one clear line after at most the connect timeout, not a hang."""
    start = time.time()
    with pytest.raises(TrainlabError, match=r"--address 127\.0\.0\.1:1: cannot reach 127\.0\.0\.1:1"):
        run_study(tiny_study, executor="ray", address="127.0.0.1:1")
    assert time.time() - start < 10
