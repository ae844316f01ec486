"""The one training loop: batches, steps, evaluation, divergence. Everything else (schedules, gradient
clipping, early stopping, recording, checkpoints, progress) is a hook, so the loop knows nothing of
stores or terminals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from trainlab.data.base import DataBundle, TensorSplit
from trainlab.optim import Schedule
from trainlab.spec.config import TrainConfig
from trainlab.train import measure, seeding
from trainlab.train.tasks import Task, is_better


@dataclass
class Row:
    """One metric value, in the store's long format."""

    step: int
    epoch: int
    split: str
    name: str
    value: float
    wall_s: float  # cumulative training seconds when it was measured


@dataclass
class LoopState:
    """Everything needed to continue a run exactly where it stopped (saved in last.pt)."""

    epoch: int = 0  # finished epochs
    step: int = 0  # optimizer steps taken
    train_seconds: float = 0.0  # cumulative, evaluation excluded
    best_value: float | None = None
    best_epoch: int | None = None
    diverged_epoch: int | None = None
    stop_reason: str | None = None
    flops: float = 0.0  # cumulative training FLOPs


class Hook:
    """Called by the loop at fixed points, in list order; override what you need."""

    def before_optimizer_step(self, loop: Loop) -> None: ...

    def on_step(self, loop: Loop, loss: torch.Tensor) -> None: ...

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        """After validation; `loop.valid` holds this epoch's metrics (None when it diverged)."""


@dataclass
class Loop:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    data: DataBundle
    task: Task
    train_cfg: TrainConfig
    device: torch.device
    hooks: list[Hook] = field(default_factory=list)
    state: LoopState = field(default_factory=LoopState)
    valid: dict[str, float] | None = None  # this epoch's validation metrics
    flops_per_unit: float | None = None  # training FLOPs per example (or target token): cumulative FLOPs
    _pending: list[Row] = field(default_factory=list)

    # -- public API -------------------------------------------------------------------------------

    def run(self) -> LoopState:
        """Train the remaining epochs; stops early on divergence or early stopping."""
        total = self.train_cfg.total_steps(self.data.train.num_batches(self.train_cfg.batch_size))
        while self.state.step < total and self.state.stop_reason is None:
            self._train_epoch(self.state.epoch + 1, total)
        return self.state

    def evaluate(self, split: TensorSplit) -> dict[str, float]:
        """Exact split metrics in eval mode, without gradients, and the evaluation's throughput."""
        return self._timed_evaluate(split)[0]

    def _timed_evaluate(self, split: TensorSplit) -> tuple[dict[str, float], float]:
        """`evaluate`, and the seconds it took (one clock serves both the throughput and eval seconds)."""
        was_training = self.model.training
        self.model.eval()
        sums = torch.zeros(self.task.n_eval_sums, device=self.device)
        with torch.no_grad(), measure.Stopwatch(self.device) as clock:
            for x, y in split.batches(self.train_cfg.eval_batch_size or self.train_cfg.batch_size):
                with self.autocast():
                    out = self.model(x)
                    loss = self.task.loss(out, y)
                    sums += self.task.eval_sums(self.model, x, y, out, loss)
        self.model.train(was_training)
        metrics = {**self.task.summarize_eval(sums), self.task.throughput: self.task.count(sums) / clock.seconds}
        return metrics, clock.seconds

    def autocast(self) -> torch.autocast:
        """Mixed precision for forward passes when `train.precision` asks for it (a no-op for fp32)."""
        bf16 = self.train_cfg.precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16)

    def log(self, split: str, metrics: dict[str, float], epoch: int | None = None) -> None:
        epoch = self.state.epoch + 1 if epoch is None else epoch
        for name, value in metrics.items():
            self._pending.append(Row(self.state.step, epoch, split, name, value, self.state.train_seconds))

    # -- internals --------------------------------------------------------------------------------

    def _train_epoch(self, epoch: int, total_steps: int) -> None:
        """One pass over the training data, cut short when the run reaches `total_steps`."""
        cfg, state = self.train_cfg, self.state
        self.model.train()
        measure.reset_peak_memory(self.device)
        order = seeding.generator(cfg.seed, f"order/{epoch}")
        augmentation = seeding.generator(cfg.seed, f"augment/{epoch}")
        sums = torch.zeros(self.task.n_sums, device=self.device)
        eval_seconds = 0.0
        # Training seconds cover batching and augmentation too, as a user's epoch does; only
        # evaluation is left out.
        with measure.GPUSampler(self.device) as gpu, measure.Stopwatch(self.device) as clock:
            for x, y in self.data.train.batches(cfg.batch_size, generator=order, augment_generator=augmentation):
                loss = self._step(x, y, sums)
                for hook in self.hooks:
                    hook.on_step(self, loss)
                if cfg.eval_every_steps and state.step % cfg.eval_every_steps == 0:
                    with clock.paused():
                        eval_seconds += self._evaluate_valid(clock.seconds)
                if state.step >= total_steps:
                    break
        state.train_seconds += clock.seconds
        train = self.task.summarize(sums)
        count = self.task.count(sums)
        self.log("train", {**train, "seconds": clock.seconds, self.task.throughput: count / clock.seconds})
        self.log("train", {"lr": self.optimizer.param_groups[0]["lr"]})
        self.log("train", {**measure.memory_metrics(self.device), **gpu.metrics()})
        if self.flops_per_unit:
            state.flops += self.flops_per_unit * count
            self.log("train", {"flops": state.flops})
        self.valid = None
        if not math.isfinite(train["loss"]):
            state.diverged_epoch, state.stop_reason = epoch, "diverged"
            self._finish_epoch(epoch, improved=False, eval_seconds=eval_seconds)
            return
        self.valid, valid_seconds = self._timed_evaluate(self.data.valid)
        self.log("valid", self.valid)
        improved = is_better(self.task, self.valid[self.task.main_metric], state.best_value)
        if improved:
            state.best_value, state.best_epoch = self.valid[self.task.main_metric], epoch
        self._finish_epoch(epoch, improved, eval_seconds + valid_seconds)

    def _step(self, x: torch.Tensor, y: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            out = self.model(x)
            loss = self.task.loss(out, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for hook in self.hooks:
            hook.before_optimizer_step(self)
        self.optimizer.step()
        self.state.step += 1
        with torch.no_grad():
            sums += self.task.sums(out, y, loss)
        return loss

    def _evaluate_valid(self, train_seconds_so_far: float) -> float:
        """A mid-epoch validation point (train.eval_every_steps); returns its seconds."""
        valid, seconds = self._timed_evaluate(self.data.valid)
        wall = self.state.train_seconds + train_seconds_so_far
        for name, value in valid.items():
            self._pending.append(Row(self.state.step, self.state.epoch + 1, "valid_step", name, value, wall))
        return seconds

    def _finish_epoch(self, epoch: int, improved: bool, eval_seconds: float) -> None:
        self.state.epoch = epoch
        self.log("valid", {"seconds": eval_seconds}, epoch=epoch)
        rows, self._pending = self._pending, []
        for hook in self.hooks:
            hook.on_epoch_end(self, rows, improved)

    def snapshot(self) -> dict[str, Any]:
        """The state to save in last.pt: weights, optimizer, schedule, loop counters, RNG."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "loop": vars(self.state).copy(),
            "rng": seeding.rng_state(self.device),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.model.load_state_dict(snapshot["model"])
        self.optimizer.load_state_dict(snapshot["optimizer"])
        self.schedule.load_state_dict(snapshot["schedule"])
        self.state = LoopState(**snapshot["loop"])
        seeding.set_rng_state(snapshot["rng"], self.device)
