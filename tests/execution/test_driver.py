"""The driver: a failing run does not stop the sweep; its traceback is kept; the next `run` retries it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_study
from trainlab.api import describe_run, run_study
from trainlab.cli import main
from trainlab.store import open_store
from trainlab.train import Hook, Loop


class FailsOnce(Hook):
    def on_step(self, loop: Loop, loss: object) -> None:
        if loop.optimizer.param_groups[0]["lr"] == 0.05 and loop.state.step == 3:
            raise RuntimeError("CUDA out of memory (simulated)")


def test_a_failed_run_is_stored_with_its_traceback_and_the_sweep_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Experiment 1 raises mid-epoch: it is marked failed with the error, experiment 2 still trains,
    `trainlab run` exits 1 and names it; the next run retries it."""
    import trainlab.execution.runner as runner

    study = write_study(tmp_path, runs=[{"optim.lr": 0.05, "schedule.name": "none"}, {}])
    hooks = runner._hooks
    monkeypatch.setattr(runner, "_hooks", lambda *a: [*hooks(*a), FailsOnce()])
    assert main(["run", str(study), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "2 runs: 1 done, 1 failed" in out and "failed: RuntimeError: CUDA out of memory (simulated)" in out
    store = open_store(tmp_path / "store")
    failed = store.runs("tiny").iloc[0]
    assert failed["status"] == "failed"
    error = describe_run(store, failed["id"])["error"]
    assert error.startswith("Traceback") and 'raise RuntimeError("CUDA out of memory (simulated)")' in error
    monkeypatch.setattr(runner, "_hooks", hooks)
    assert [o.status for o in run_study(study)] == ["done", "skipped"]
    assert describe_run(store, failed["id"])["error"] is None
