"""The one training loop: batches, steps, evaluation, divergence. Everything else (schedules, gradient
clipping, early stopping, recording, checkpoints, progress) is a hook, so the loop knows nothing of
stores or terminals.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import nn

from trainlab.data.base import Batch, DataBundle, Split
from trainlab.hardware import freed_memory_kept
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

    epoch: int = 0  # finished rounds: data epochs, or intervals of train.eval_every_steps steps
    step: int = 0  # optimizer steps taken
    train_seconds: float = 0.0  # cumulative, evaluation excluded
    best_value: float | None = None
    best_epoch: int | None = None
    diverged_epoch: int | None = None
    stop_reason: str | None = None
    flops: float = 0.0  # cumulative training FLOPs
    seen: int = 0  # cumulative training examples (tokens for language models and translation)


class Hook:
    """Called by the loop at fixed points, in list order; override what you need."""

    # Whether the hook runs unchanged for a member of a packed run (trainlab.train.packed): true when its
    # per-step work reads only `loop.state` and the loss, never the weights or gradients, which live in the
    # pack during a round. A hook that reads them sets False, and its run trains alone.
    packs = True
    # Steps after which `on_step` reads the model (a snapshot to rewind to): a packed run writes the member's
    # weights back into its model before calling it there, so such a hook still packs.
    model_steps: frozenset[int] = frozenset()

    def before_optimizer_step(self, loop: Loop) -> None: ...

    def masks(self) -> Mapping[str, torch.Tensor]:
        """Weights the hook holds at zero after every step, by parameter name (a pruning mask of 0s and 1s). A
        packed run multiplies its stacked weights by them instead of calling the hook's `on_step`."""
        return {}

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
    batch: Batch | None = None  # the batch of the step in progress (hooks that measure gradients read it)
    _pending: list[Row] = field(default_factory=list)
    _batches: Iterator[Batch] | None = None  # the data epoch in progress

    # -- public API -------------------------------------------------------------------------------

    def run(self) -> LoopState:
        """Train round after round until the run's last step, divergence or early stopping."""
        per_epoch = self.data.train.num_batches(self.train_cfg.batch_size)
        total = self.train_cfg.total_steps(per_epoch)
        while self.state.step < total and self.state.stop_reason is None:
            with freed_memory_kept(self.device):
                self._train_round(self.state.epoch + 1, self._round_end(per_epoch, total), per_epoch)
        return self.state

    def evaluate(self, split: Split, max_batches: int | None = None) -> dict[str, float]:
        """Exact split metrics in eval mode, without gradients, and the evaluation's throughput; over a
        fixed seeded sample of `max_batches` batches when given (nanoGPT's eval_iters, but the same
        sample at every evaluation, so points along a run are comparable)."""
        return self._timed_evaluate(split, max_batches)[0]

    def _timed_evaluate(self, split: Split, max_batches: int | None = None) -> tuple[dict[str, float], float]:
        """`evaluate`, and the seconds it took (one clock serves both the throughput and eval seconds)."""
        was_training = self.model.training
        self.model.eval()
        sums = torch.zeros(self.task.n_eval_sums, device=self.device)
        size = self.train_cfg.eval_batch_size or self.train_cfg.batch_size
        sample = seeding.generator(self.train_cfg.seed, "eval_sample") if max_batches else None
        with torch.no_grad(), measure.Stopwatch(self.device) as clock:
            for x, y in itertools.islice(split.batches(size, generator=sample), max_batches):
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

    def _round_end(self, per_epoch: int, total: int) -> int:
        """The step at which the current round ends: the next multiple of `train.eval_every_steps` when
        set (rounds are evaluation intervals, whatever the data epochs), else the end of the data epoch."""
        every = self.train_cfg.eval_every_steps or per_epoch
        return min(total, (self.state.step // every + 1) * every)

    def _next_batch(self, per_epoch: int) -> Batch:
        """The next training batch. Data epoch e is drawn from its own seeded streams (order/e, augment/e),
        so a run resumed mid-epoch replays the same order by skipping the batches it already took."""
        if self._batches is None:
            self._batches = self.batches_from(self.state.step, per_epoch)
        return next(self._batches)

    def batches_from(self, step: int, per_epoch: int) -> Iterator[Batch]:
        """The run's training batches from step `step` to the end of that data epoch."""
        epoch, done = divmod(step, per_epoch)
        cfg = self.train_cfg
        order = seeding.generator(cfg.seed, f"order/{epoch + 1}")
        augmentation = seeding.generator(cfg.seed, f"augment/{epoch + 1}")
        batches = self.data.train.batches(cfg.batch_size, generator=order, augment_generator=augmentation)
        return itertools.islice(batches, done, None)

    def _train_round(self, epoch: int, end: int, per_epoch: int) -> None:
        """Train up to step `end` (a data epoch, or `train.eval_every_steps` steps), then validate once.
        The store counts rounds as its epochs."""
        state = self.state
        self.model.train()
        measure.reset_peak_memory(self.device)
        sums = torch.zeros(self.task.n_sums, device=self.device)
        # Training seconds cover batching and augmentation too, as a user's epoch does; only
        # evaluation is left out.
        with measure.GPUSampler(self.device) as gpu, measure.Stopwatch(self.device) as clock:
            while state.step < end:
                x, y = self._next_batch(per_epoch)
                loss = self._step(x, y, sums)
                if state.step % per_epoch == 0:
                    self._batches = None  # the data epoch is over
                for hook in self.hooks:
                    hook.on_step(self, loss)
        self.end_round(epoch, sums, clock.seconds, gpu.metrics())

    def end_round(
        self,
        epoch: int,
        sums: torch.Tensor,
        seconds: float,
        gpu: dict[str, float],
        valid: tuple[dict[str, float], float] | None = None,
    ) -> None:
        """After a round's steps (`sums`: the task's training sums, `seconds`: the time they took): log the
        training metrics, then validate, unless the loss diverged. Packed training (trainlab.train.packed)
        ends each member's rounds here too, with the validation (metrics, seconds) it computed for the pack."""
        cfg, state = self.train_cfg, self.state
        state.train_seconds += seconds
        train = self.task.summarize(sums)
        count = self.task.count(sums)
        state.seen += count
        self.log("train", {**train, "seconds": seconds, self.task.throughput: count / seconds})
        self.log("train", {"lr": self.optimizer.param_groups[0]["lr"], "seen": state.seen})
        self.log("train", {**measure.memory_metrics(self.device), **gpu})
        if self.flops_per_unit:
            state.flops += self.flops_per_unit * count
            self.log("train", {"flops": state.flops})
        self.valid = None
        if not math.isfinite(train["loss"]):
            state.diverged_epoch, state.stop_reason = epoch, "diverged"
            self._finish_epoch(epoch, improved=False, eval_seconds=0.0)
            return
        self.valid, valid_seconds = valid or self._timed_evaluate(self.data.valid, cfg.eval_batches)
        self.log("valid", self.valid)
        improved = is_better(self.task, self.valid[self.task.main_metric], state.best_value)
        if improved:
            state.best_value, state.best_epoch = self.valid[self.task.main_metric], epoch
        self._finish_epoch(epoch, improved, valid_seconds)

    @cached_property
    def trainable(self) -> bool:
        """False for a model with nothing to train (zero-shot): its steps only measure it."""
        return any(p.requires_grad for p in self.model.parameters())

    def _step(self, x: torch.Tensor, y: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
        self.batch = (x, y)
        with torch.set_grad_enabled(self.trainable), self.autocast():
            out = self.model(x)
            loss = self.task.loss(out, y)
        if self.trainable:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for hook in self.hooks:
                hook.before_optimizer_step(self)
            self.optimizer.step()
        self.state.step += 1
        with torch.no_grad():
            sums += self.task.sums(out, y, loss)
        return loss

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
