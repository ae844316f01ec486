"""Measurement: the CPU resident-memory peak is per epoch, not per process; what training seconds count."""

from __future__ import annotations

import resource
import time
import warnings
from pathlib import Path

import pytest
import torch

from tests.conftest import needs_gpu, write_study
from trainlab.api import planned_runs
from trainlab.data.images import ImageConfig, image_bundle
from trainlab.hardware import freed_memory_kept
from trainlab.models.vit import ViTConfig
from trainlab.spec import OptimConfig, RunConfig, ScheduleConfig, TrainConfig
from trainlab.studies.catalog import load_study
from trainlab.train import Hook, Loop, Row
from trainlab.train.build import DataCache, build_parts
from trainlab.train.hooks import config_hooks
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


def _page_faults_of_churn(numel: int) -> int:
    """Minor page faults while two tensors of `numel` floats are made and freed, five times."""
    faults = 0
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a, b = torch.ones(numel), torch.ones(numel)
        faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        del a, b
    return faults


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable VmHWM")
def test_a_cpu_round_reuses_freed_memory_and_gives_it_back_after() -> None:
    """Inside freed_memory_kept (every training round on a CPU, alone or packed), blocks of 60 MB freed and
    made again come from memory the process kept, not from fresh pages (fewer than half the page faults);
    after it, a freed 400 MB tensor is given back, so the next epoch's peak starts from what is in use (a
    process-wide version of the setting kept it: the peak stopped falling between epochs)."""
    default = _page_faults_of_churn(15_000_000)
    cpu = torch.device("cpu")
    with freed_memory_kept(cpu) as kept:
        if not kept:
            pytest.skip("the C library is not glibc: freed memory is left to its malloc")
        reused = _page_faults_of_churn(15_000_000)
        reset_peak_memory(cpu)
        base = peak_rss_mb()
        big = torch.ones(100_000_000)
        del big
    assert reused < default / 2, (reused, default)
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


def test_train_seconds_cover_the_steps_and_leave_out_evaluation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """21 steps with 0.02 s of work after each (0.42 s counted) and a 0.05 s validation after each
    step (1.05 s not counted): 21 rounds of one step."""
    (run,) = planned_runs(load_study(write_study(tmp_path)), {"train.eval_every_steps": 1})
    cpu = torch.device("cpu")
    data = DataCache().get(run.config)
    parts = build_parts(run.config, data, cpu)
    timer = SlowStep()
    loop = Loop(parts.model, parts.optimizer, parts.schedule, data, parts.task, run.config.train, cpu, hooks=[timer])
    evaluate = loop._timed_evaluate  # what the loop calls for every validation
    monkeypatch.setattr(loop, "_timed_evaluate", lambda split, batches: time.sleep(0.05) or evaluate(split, batches))
    loop.run()
    assert loop.state.step == 21 and len(timer.seconds) == 21
    assert 0.42 <= sum(timer.seconds) == pytest.approx(loop.state.train_seconds)
    assert sum(timer.seconds) < 0.42 + 1.05  # evaluation would add at least 1.05 s


def _cuda_syncs_in_one_epoch(images: int) -> int:
    """Device synchronisations PyTorch reports while a ViT trains one epoch on augmented images."""
    cuda = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randint(0, 256, (images + 64, 1, 28, 28), dtype=torch.uint8, generator=g),
        torch.randint(0, 10, (images + 64,)),
    )
    cfg = ImageConfig(name="mnist", augment=("hflip", "resized_crop"), valid_size=64)
    bundle = image_bundle(cfg, (x, y), (x[:64], y[:64]), (0.5,), (0.25,)).to(cuda)
    config = RunConfig(
        data=cfg,
        model=ViTConfig(patch=7, embed_dim=32, hidden_dim=64, heads=2, layers=1),
        optim=OptimConfig(name="adamw"),
        schedule=ScheduleConfig(),
        train=TrainConfig(epochs=1, batch_size=64),
    )
    parts = build_parts(config, bundle, cuda)
    loop = Loop(
        parts.model,
        parts.optimizer,
        parts.schedule,
        bundle,
        parts.task,
        config.train,
        cuda,
        hooks=config_hooks(config.train),
    )
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loop.run()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


@needs_gpu
def test_training_steps_never_wait_for_the_gpu() -> None:
    """Syncs happen per epoch (metrics, evaluation), not per step: 16 steps sync no more than 4 do."""
    _cuda_syncs_in_one_epoch(256)  # warm-up: library initialisation may synchronise once
    assert _cuda_syncs_in_one_epoch(1024) <= _cuda_syncs_in_one_epoch(256) + 2
