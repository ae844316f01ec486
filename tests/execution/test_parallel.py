"""Parallel execution with a local process pool: results identical to one process, a killed worker's run
retried from its checkpoint, a run's own failure not retried, the driver killed or interrupted, one driver
per store, and bad options in one line."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import assert_user_error, run_cli, trainlab_command, write_study
from trainlab.api import run_study
from trainlab.errors import TrainlabError
from trainlab.execution import pool
from trainlab.execution.parallel import ParallelDriver
from trainlab.execution.units import Outcome
from trainlab.execution.workers import Finish
from trainlab.store import Claims, Store

EPOCHS = 10  # of the runs the fault tests interrupt
TIMINGS = ("seconds", "samples_per_s", "peak_rss_mb")  # what differs between two runs of the same config


def _rows(store: Path) -> pd.DataFrame:
    db = Store(store, read_only=True)
    try:
        return db.metrics()
    finally:
        db.close()


def metrics(store: Path) -> pd.Series:
    """Every stored value but timings, by (run, split, name, epoch)."""
    m = _rows(store)
    return m[~m["name"].isin(TIMINGS)].set_index(["run_id", "split", "name", "epoch"])["value"].sort_index()


def valid_epochs(store: Path) -> pd.DataFrame:
    m = _rows(store)
    return m[(m["split"] == "valid") & (m["name"] == "loss")][["run_id", "epoch"]].reset_index(drop=True)


def _four_runs(folder: Path) -> Path:
    return write_study(folder, runs=[{}, {"optim.name": "adam", "optim.lr": 0.01}], seeds=[0, 1])


@pytest.fixture
def four_runs(tmp_path: Path) -> Path:
    return _four_runs(tmp_path)


@pytest.fixture(scope="module")
def never_stopped(tmp_path_factory: pytest.TempPathFactory) -> pd.Series:
    """The metrics of the fault tests' study trained by a pool that nobody stops (computed once)."""
    folder = tmp_path_factory.mktemp("never_stopped")
    reference = _start(_four_runs(folder))
    assert reference.wait(timeout=300) == 0
    return metrics(folder / "store")


@pytest.mark.e2e
def test_pool_results_equal_one_process(four_runs: Path, tmp_path: Path) -> None:
    """Two workers of one thread each store bit-identical metrics to one process on one thread. Runs train
    one at a time on both sides: `auto` decides by timing, and a packed member matches its run alone to
    rounding, not to the bit (packs on workers: test_packs_train_on_workers_...)."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        run_study(four_runs, store=tmp_path / "alone", pack="off")
        torch.set_num_threads(2)  # split between two workers: one thread each
        outcomes = run_study(four_runs, store=tmp_path / "pool", workers=2, pack="off")
    finally:
        torch.set_num_threads(threads)
    assert [o.status for o in outcomes] == ["done"] * 4
    alone, pool = metrics(tmp_path / "alone"), metrics(tmp_path / "pool")
    assert len(alone) == 4 * 25 and alone.index.equals(pool.index) and (alone == pool).all()
    assert [o.status for o in run_study(four_runs, store=tmp_path / "pool", workers=2, pack="off")] == ["skipped"] * 4


def _workers_of(pid: int) -> list[int]:
    """The pool's worker processes among `pid`'s children (not multiprocessing's resource tracker)."""
    out = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"multiprocessing.spawn" in cmdline and b"resource_tracker" not in cmdline:
            out.append(int(child))
    return out


def _wait(db: Path, sql: str, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with sqlite3.connect(db, timeout=5) as con:
                if db.exists() and con.execute(sql).fetchone()[0]:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"never true: {sql}")


def _start(study: Path, *extra: str) -> subprocess.Popen[str]:
    """The fault tests' pool, each run alone (`auto` packs by timing, so a rerun could pack where the
    never-stopped reference did not, and differ from it by rounding)."""
    args = trainlab_command(
        "run",
        str(study),
        "--workers",
        "2",
        "--pack",
        "off",
        "--set",
        f"train.epochs={EPOCHS}",
        "--set",
        "data.n=1500",
        *extra,
    )
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.e2e
def test_a_killed_worker_is_replaced_and_its_run_resumes(four_runs: Path, tmp_path: Path) -> None:
    """kill -9 of a worker mid-run: the driver says so, retries the run from its last checkpoint in a new
    worker, and the study ends with every epoch of every run stored once."""
    proc = _start(four_runs)
    db = tmp_path / "store" / "store.sqlite"
    _wait(db, "SELECT COUNT(*) FROM runs WHERE status = 'partial' AND epochs_done >= 2", proc)
    (victim, *_) = _workers_of(proc.pid)
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"(pid {victim}) died, exit code -9; retrying it from its last checkpoint (attempt 2 of 3)" in err  # notes
    epochs = valid_epochs(tmp_path / "store")
    assert len(epochs) == 4 * EPOCHS and not epochs.duplicated().any()


@pytest.mark.e2e
def test_packs_train_on_workers_and_a_killed_workers_pack_resumes(tmp_path: Path) -> None:
    """--workers 2 --pack 4: each worker trains packs (progress names them); kill -9 of the workers retries
    every run of their packs from its checkpoint, and the study ends with every epoch stored once and the
    values of the same runs trained one at a time in one process."""
    from tests.execution.test_packing import _metrics, _same, _study

    longer = {"train.epochs": EPOCHS, "data.n": 3000}
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(pool.threads_per_worker(2))  # the arithmetic of the workers' runs alone
        run_study(_study(tmp_path / "alone", **longer), pack="off")
    finally:
        torch.set_num_threads(threads)
    study = _study(tmp_path / "packed", **longer)
    args = trainlab_command("run", str(study), "--workers", "2", "--pack", "4", "--progress-every", "0")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    store = tmp_path / "packed" / "store"
    # Both workers die once a run is past epoch 2, so its pack resumes mid-way (killing one worker, its
    # pack could still be at epoch 0 and restart from scratch, and a resume that lost the weights passed).
    _wait(store / "store.sqlite", "SELECT COUNT(*) FROM runs WHERE status = 'partial' AND epochs_done >= 2", proc)
    victims = _workers_of(proc.pid)
    for victim in victims:
        os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "pack of 2 (runs" in err
    for victim in victims:
        assert f"(pid {victim}) died, exit code -9; retrying it from its last checkpoint" in err, err
    valid = _metrics(store).query("split == 'valid' and name == 'loss'")
    assert len(valid) == 12 * EPOCHS and not valid.duplicated(["run_id", "epoch"]).any()
    _same(_metrics(store), _metrics(tmp_path / "alone" / "store"))


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_the_driver_killed_or_interrupted_leaves_no_worker_and_resumes(
    four_runs: Path, tmp_path: Path, sig: signal.Signals, never_stopped: pd.Series
) -> None:
    """kill -9 of the driver takes its workers with it; Ctrl-C (SIGINT to the whole process group, as a
    terminal sends it) stops them cleanly with exit 130. Either way the rerun finishes every run without
    repeating an epoch, with the metrics of a run never stopped."""
    proc = _start(four_runs)
    db = tmp_path / "store" / "store.sqlite"
    _wait(db, "SELECT COUNT(*) FROM runs WHERE epochs_done >= 2", proc)
    workers = _workers_of(proc.pid)
    assert len(workers) == 2
    os.killpg(proc.pid, sig) if sig == signal.SIGINT else os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in err, err
    deadline = time.time() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]
    rerun = _start(four_runs)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    epochs = valid_epochs(tmp_path / "store")
    assert len(epochs) == 4 * EPOCHS and not epochs.duplicated().any()
    stopped = metrics(tmp_path / "store")
    assert stopped.index.equals(never_stopped.index) and (stopped == never_stopped).all()


@pytest.mark.e2e
def test_a_diverging_run_is_not_retried(tmp_path: Path) -> None:
    """A run that fails by itself (here it diverges) ends once; the pool goes on with the other."""
    study = write_study(tmp_path, runs=[{"optim.lr": 1e6}, {}])
    outcomes = run_study(study, workers=2)
    assert [o.status for o in outcomes] == ["diverged", "done"]


class ScriptedExecutor:
    """An executor whose workers say what the test scripts: per job (by its first unit's experiment), a list
    of endings, one per attempt; a finish gives each of the job's units that status."""

    slots = 2

    def __init__(self, endings: dict[int, list[tuple]]) -> None:
        self.endings, self.started, self.running = endings, [], []

    def describe(self) -> str:
        return "a script"

    def free(self) -> bool:
        return len(self.running) < self.slots

    def start(self, key, job) -> None:  # noqa: ANN001
        self.started.append(tuple(u.experiment for u in job.units))
        self.running.append((key, job.units))

    def poll(self, timeout: float) -> list[tuple[str, tuple]]:
        out = []
        for key, units in self.running:
            ending = self.endings[units[0].experiment].pop(0) if self.endings.get(units[0].experiment) else None
            assert ending, f"no ending scripted for a job of experiments {[u.experiment for u in units]}"
            if ending[0] == "finish":
                ending = ("finish", Finish(tuple(Outcome(u.id, u.experiment, u.seed, ending[1]) for u in units)))
            out.append((key, ending))
        self.running = []
        return out

    def answer(self, key, reply) -> None:  # noqa: ANN001
        raise AssertionError("no events in this script")

    def close(self, interrupted: bool) -> None:
        pass


def _scripted(tmp_path: Path, runs: list[dict], executor: ScriptedExecutor, pack: str) -> list[Outcome]:
    from trainlab.execution.driver import Sink
    from trainlab.execution.packing import PackSetting
    from trainlab.execution.units import Context
    from trainlab.spec import plan_study
    from trainlab.studies.catalog import catalog, load_study
    from trainlab.studies.kind import kind_of
    from trainlab.train.build import DataCache

    study = load_study(write_study(tmp_path, runs=runs))
    units = plan_study(study, catalog())
    store = Store(tmp_path / "store")
    ctx = Context(store.root, Sink(store, None), torch.device("cpu"), DataCache(), pack=PackSetting.parse(pack))
    claims = Claims(store.path)
    try:
        return ParallelDriver(kind_of(study), units, store, ctx, executor=executor, retries=2).run(claims)
    finally:
        claims.close()
        store.close()


def test_crashes_are_retried_a_bounded_number_of_times_and_failures_not_at_all(tmp_path: Path) -> None:
    """Unit 1 crashes once then finishes; unit 2 crashes three times (two retries allowed): failed;
    unit 3 fails by itself: started once."""
    crash = ("crashed", "its worker died")
    executor = ScriptedExecutor({1: [crash, ("finish", "done")], 2: [crash, crash, crash], 3: [("finish", "failed")]})
    outcomes = _scripted(tmp_path, [{}, {"optim.lr": 0.2}, {"optim.lr": 0.3}], executor, "off")
    assert [o.status for o in outcomes] == ["done", "failed", "failed"]
    assert sorted(executor.started) == [(1,), (1,), (2,), (2,), (2,), (3,)]
    assert "3 times; not retried again (--retries 2)" in outcomes[1].reason


def test_packs_are_jobs_split_across_the_workers_and_retried_whole(tmp_path: Path) -> None:
    """--pack 8 with two workers: the five runs of one batch size go as packs of 2 and 3 (one per worker,
    not one pack of five), the run of another batch size alone; when the first pack's worker dies both its members are
    retried, grouped again with what is waiting: split across the two workers."""
    crash = ("crashed", "its worker died")
    runs = [{"optim.lr": lr} for lr in (0.1, 0.2, 0.3, 0.4, 0.5)] + [{"train.batch_size": 8}]
    done = ("finish", "done")
    executor = ScriptedExecutor({1: [crash, done], 2: [done], 3: [done], 6: [done]})
    outcomes = _scripted(tmp_path, runs, executor, "8")
    assert [o.status for o in outcomes] == ["done"] * 6
    assert executor.started == [(1, 2), (3, 4, 5), (1,), (2,), (6,)]


def test_one_parallel_driver_per_store(tmp_path: Path) -> None:
    """A driver with workers refuses a store another live driver runs, and a plain driver refuses a store a
    parallel one runs; both name the holder; drivers of one process each still share."""
    store = Store(tmp_path / "store")
    first, second, third = Claims(store.path), Claims(store.path), Claims(store.path)
    try:
        first.register_driver(exclusive=False)
        second.register_driver(exclusive=False)  # two plain drivers share, as before
        with pytest.raises(
            TrainlabError,
            match=rf"another trainlab run holds it \(pid {os.getpid()} on host .+\); a run "
            r"with --workers or --executor ray must be its store's only driver",
        ):
            third.register_driver(exclusive=True)
        first.close()
        second.close()
        third = Claims(store.path)
        third.register_driver(exclusive=True)
        with pytest.raises(TrainlabError, match="it trains with parallel workers and must be the store's only driver"):
            Claims(store.path).register_driver(exclusive=False)
    finally:
        third.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: must be at least 1 (got 0)"),
        (["--executor", "dask"], "--executor: unknown 'dask'; valid: local, ray"),
        (["--address", "auto"], "--address: only with --executor ray"),
        (["--retries", "-1"], "--retries: must be 0 or more (got -1)"),
    ],
)
def test_bad_parallel_options_fail_in_one_line(tiny_study: Path, args: list[str], message: str) -> None:
    """Each names the option and what is valid; nothing is trained or written."""
    assert_user_error(run_cli("run", str(tiny_study), *args), message)
    assert not (tiny_study.parent / "store").exists()


def test_ray_missing_names_the_extra(tiny_study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Ray installed, --executor ray says which extra to install."""
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(TrainlabError, match=r"--executor ray needs Ray: pip install -e '\.\[ray\]'"):
        run_study(tiny_study, executor="ray")


def test_a_worker_freezes_the_collector_after_its_last_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process's main (pool._serve) runs its units, then skips CPython's final collections, since
    the driver waits for every worker to exit. Called here in the test process, with the process-wide
    parts (death signal, thread count) stubbed."""
    calls: list[str] = []
    monkeypatch.setattr(pool, "die_with_parent", lambda: None)
    monkeypatch.setattr(pool.torch, "set_num_threads", lambda threads: None)
    monkeypatch.setattr(pool, "_run_units", lambda conn, device: calls.append(f"units on {device}"))
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    pool._serve(None, "cpu", 1)
    assert calls == ["units on cpu", "freeze"]


def _ask_then_die(conn) -> None:  # noqa: ANN001
    conn.send(("event", "a stored epoch"))
    os._exit(1)


@pytest.mark.e2e
def test_a_worker_that_dies_after_asking_is_reported_crashed_and_its_answer_dropped() -> None:
    """A worker killed between sending an event and reading its answer: one poll returns the event, then
    the crash; answering the event (the driver does so before it reads the crash) must not fail."""
    local = pool.LocalPool(1, torch.device("cpu"))
    context = mp.get_context("fork")  # the child only writes to its pipe and exits
    parent, child = context.Pipe(duplex=True)
    process = context.Process(target=_ask_then_die, args=(child,), daemon=True)
    process.start()
    child.close()
    local._workers[0] = pool._Worker(process, parent, job="run-1")
    process.join(10)
    messages = local.poll(1.0)
    assert [(key, message[0]) for key, message in messages] == [("run-1", "event"), ("run-1", "crashed")]
    local.answer("run-1", ("ok",))
    assert local.free()
    local.close(interrupted=False)
