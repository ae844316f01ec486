"""The `train` study kind: run every planned run not yet done, resuming partial ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress

from trainlab.spec import RunSpec, StudySpec
from trainlab.store import DONE_STATUSES, Store
from trainlab.store.manifest import device_facts, git_state, library_versions, now_iso, write_manifest
from trainlab.studies.build import DataCache, Parts, build_parts
from trainlab.studies.progress import ProgressHook, make_progress
from trainlab.train import Hook, Loop, Row, checkpoint, flops, measure, seeding
from trainlab.train.hooks import config_hooks


@dataclass
class RunOutcome:
    run: RunSpec
    status: str  # done, diverged, or skipped (already done)
    epochs: int


class Recorder(Hook):
    """At each epoch end: metrics and progress in one store transaction, then best.pt, then last.pt.

    The store is written first: if the process dies before last.pt is replaced, the rerun resumes
    from the older checkpoint and `Store.rewind` drops the rows written after it.
    """

    def __init__(self, store: Store, run_id: str, folder: Path) -> None:
        self.store, self.run_id, self.folder = store, run_id, folder

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        s = loop.state
        status = "diverged" if s.stop_reason == "diverged" else "partial"
        self.store.record_epoch(
            self.run_id,
            [(r.step, r.epoch, r.split, r.name, r.value, r.wall_s) for r in rows],
            {
                "status": status,
                "epochs_done": s.epoch,
                "best_value": s.best_value,
                "best_epoch": s.best_epoch,
                "diverged_epoch": s.diverged_epoch,
            },
        )
        if improved:
            checkpoint.save_atomic(loop.model.state_dict(), self.folder / "best.pt")
        if loop.train_cfg.keep_epoch_checkpoints:
            checkpoint.save_atomic(loop.model.state_dict(), self.folder / f"epoch_{s.epoch}.pt")
        checkpoint.save_atomic(loop.snapshot(), self.folder / "last.pt")


def _test_rows(loop: Loop, folder: Path) -> list[tuple[Any, ...]]:
    """Test metrics of the last model (split test_last) and the best-valid one (split test);
    one evaluation when the last epoch is the best."""
    test = loop.data.test
    if test is None:
        return []
    s = loop.state
    last = loop.evaluate(test)
    rows = [(s.step, s.epoch, "test_last", k, v, s.train_seconds) for k, v in last.items()]
    if s.best_epoch is not None:
        if s.best_epoch != s.epoch:
            loop.model.load_state_dict(checkpoint.load(folder / "best.pt", loop.device))
        best = last if s.best_epoch == s.epoch else loop.evaluate(test)
        rows += [(s.step, s.best_epoch, "test", k, v, s.train_seconds) for k, v in best.items()]
    return rows


def _measure_flops(run: RunSpec, loop: Loop, store: Store) -> float:
    """FLOPs per example (or target token) of a training step, counted on the first batch in eval mode
    (so BatchNorm statistics stay untouched), and the analytic value where one exists. Cumulative FLOPs
    use the analytic value when there is one: PyTorch's counter does not see nn.LSTM, nor the fused
    attention kernel on CPU."""
    x, y = next(loop.data.train.batches(loop.train_cfg.batch_size))
    loop.model.eval()
    measured = flops.measured_train_flops(loop.model, loop.task.loss, x, y)
    loop.model.train()
    per_unit = measured / loop.task.units(y)
    analytic = flops.analytic_train_flops_per_token(run.config.model.name, loop.model, loop.data.info)
    store.update_facts(
        run.id,
        {
            "flops_per_unit": per_unit,
            "flops_unit": "token" if loop.data.info.task == "lm" else "example",
            "flops_per_unit_analytic": analytic,
            "params_by_module": measure.parameters_by_module(loop.model),
        },
    )
    return analytic or per_unit


def train_run(
    run: RunSpec,
    store: Store,
    device: torch.device,
    data_cache: DataCache,
    project_dir: Path | None = None,
    extra_hooks: Callable[[Loop, int], list[Hook]] | None = None,
) -> RunOutcome:
    """Train one run to completion, from its last checkpoint when it has one."""
    cfg = run.config
    folder = store.run_dir(run.id)
    data = data_cache.get(cfg).to(device)
    with seeding.private_global_rng(device):
        torch.manual_seed(seeding.stream_seed(cfg.train.seed, "init"))
        parts: Parts = build_parts(cfg, data, device)
        params = measure.parameter_counts(parts.model)
        store.ensure_run(run.id, cfg.to_dict(), parts.task.main_metric, params)
        loop = Loop(parts.model, parts.optimizer, parts.schedule, data, parts.task, cfg.train, device)
        loop.flops_per_unit = _measure_flops(run, loop, store)
        if cfg.train.compile:  # after counting, which needs eager ops; compiling in place keeps state_dict keys
            loop.model.compile()
        last = folder / "last.pt"
        if last.exists():
            loop.restore(checkpoint.load(last, device))
        else:
            checkpoint.save_atomic(parts.model.state_dict(), folder / "init.pt")
            torch.manual_seed(seeding.stream_seed(cfg.train.seed, "dropout"))
        store.rewind(run.id, loop.state.epoch)
        store.set_device(run.id, str(device))
        hardware = device_facts(device)
        store.update_facts(run.id, {"hardware": hardware})  # reports read the store, so timings keep their context
        write_manifest(
            folder / "manifest.json",
            run_id=run.id,
            config=cfg.to_dict(),
            git=git_state(project_dir),
            versions=library_versions(),
            **hardware,
            started_at=now_iso(),
            resumed_from_epoch=loop.state.epoch,
        )
        loop.hooks = [
            *config_hooks(cfg.train),  # before the Recorder: their decisions belong in the checkpoint
            Recorder(store, run.id, folder),
            *(extra_hooks(loop, run.experiment) if extra_hooks else []),
        ]
        state = loop.run()
        if state.stop_reason == "diverged":
            write_manifest(folder / "manifest.json", finished_at=now_iso(), status="diverged")
            return RunOutcome(run, "diverged", state.epoch)
        store.update_facts(run.id, {"memory_analytic": measure.analytic_memory_mb(loop.model, loop.optimizer)})
        store.record_epoch(run.id, _test_rows(loop, folder), {"status": "done"})
    write_manifest(folder / "manifest.json", finished_at=now_iso(), status="done", stop_reason=state.stop_reason)
    return RunOutcome(run, "done", state.epoch)


def run_study(
    study: StudySpec,
    plan: Sequence[RunSpec],
    store: Store,
    device: torch.device,
    console: Console | None = None,
    project_dir: Path | None = None,
    cache: DataCache | None = None,
) -> list[RunOutcome]:
    """Train every run of the plan that is not done yet; show progress on `console` (None: silent)."""
    store.save_study(
        study.name,
        study.model_dump(mode="json"),
        [
            {"experiment": r.experiment, "seed": r.seed, "run_id": r.id, "label": r.label, "changes": r.changes}
            for r in plan
        ],
    )
    cache = cache or DataCache()
    outcomes = []
    progress: Progress | None = make_progress(console) if console else None
    with progress or nullcontext():
        for i, run in enumerate(plan, 1):
            row = store.run_row(run.id)
            if row and row["status"] in DONE_STATUSES:
                outcomes.append(RunOutcome(run, "skipped", row["epochs_done"]))
                continue

            def hooks(loop: Loop, experiment: int, i: int = i, run: RunSpec = run) -> list[Hook]:
                if progress is None:
                    return []
                title = f"run {i}/{len(plan)} exp {experiment} seed {loop.train_cfg.seed} [{run.id[:8]}]"
                return [ProgressHook(progress, title, loop)]

            outcomes.append(train_run(run, store, device, cache, project_dir, hooks))
    return outcomes
