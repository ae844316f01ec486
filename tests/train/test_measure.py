"""Measurement: the CPU resident-memory peak is per epoch, not per process; what training seconds count."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from tests.conftest import write_study
from trainlab.api import planned_runs
from trainlab.spec import load_study
from trainlab.studies.build import DataCache, build_parts
from trainlab.train import Hook, Loop, Row
from trainlab.train.measure import peak_rss_mb, reset_peak_memory


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable VmHWM")
def test_peak_rss_resets_between_epochs() -> None:
    """A 400 MB tensor raises the peak; after a reset the peak is back near the current size."""
    cpu = torch.device("cpu")
    reset_peak_memory(cpu)
    base = peak_rss_mb()
    big = torch.ones(100_000_000)
    big.add_(1)
    assert peak_rss_mb() > base + 300
    del big
    reset_peak_memory(cpu)
    assert peak_rss_mb() < base + 100


class SlowStep(Hook):
    """Work done between steps (a hook, like batching) that training seconds must include."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_step(self, loop: Loop, loss: torch.Tensor) -> None:
        time.sleep(0.02)

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        self.seconds += [r.value for r in rows if r.split == "train" and r.name == "seconds"]


def test_train_seconds_cover_the_steps_and_leave_out_evaluation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """21 steps with 0.02 s of work after each (0.42 s counted) and a 0.05 s validation after each
    step (1.05 s not counted, nor the end-of-epoch ones)."""
    (run,) = planned_runs(load_study(write_study(tmp_path)), {"train.eval_every_steps": 1})
    cpu = torch.device("cpu")
    data = DataCache().get(run.config)
    parts = build_parts(run.config, data, cpu)
    timer = SlowStep()
    loop = Loop(parts.model, parts.optimizer, parts.schedule, data, parts.task, run.config.train, cpu, hooks=[timer])
    evaluate = loop.evaluate
    monkeypatch.setattr(loop, "evaluate", lambda split: time.sleep(0.05) or evaluate(split))
    loop.run()
    assert loop.state.step == 21 and len(timer.seconds) == 3
    assert 0.42 <= sum(timer.seconds) == pytest.approx(loop.state.train_seconds)
    assert sum(timer.seconds) < 0.42 + 1.05  # evaluation would add at least 1.05 + 3 × 0.05 s
