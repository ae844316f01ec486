"""The hooks every run gets from its TrainConfig: schedule, gradient clipping, early stopping."""

from __future__ import annotations

import torch
from torch import nn

from trainlab.spec.config import TrainConfig
from trainlab.train.loop import Hook, Loop, Row
from trainlab.train.noise_scale import GradientNoiseScale


class ScheduleHook(Hook):
    """Steps the learning-rate schedule: after every optimizer step, and after each validation."""

    def on_step(self, loop: Loop, loss: torch.Tensor) -> None:
        loop.schedule.after_step()

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        loop.schedule.after_epoch(loop.valid["loss"] if loop.valid else None)


class ClipGradNorm(Hook):
    """Rescales gradients whose global L2 norm exceeds `max_norm` (Pascanu et al. 2013)."""

    def __init__(self, max_norm: float) -> None:
        self.max_norm = max_norm

    def before_optimizer_step(self, loop: Loop) -> None:
        nn.utils.clip_grad_norm_(loop.model.parameters(), self.max_norm)


class EarlyStopping(Hook):
    """Stops when the main valid metric has not improved for `patience` epochs."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_epoch_end(self, loop: Loop, rows: list[Row], improved: bool) -> None:
        s = loop.state
        if s.stop_reason is None and s.best_epoch is not None and s.epoch - s.best_epoch >= self.patience:
            s.stop_reason = "early_stopping"


def config_hooks(cfg: TrainConfig) -> list[Hook]:
    """The hooks a TrainConfig asks for, in the order they must run (before recording and checkpoints)."""
    hooks: list[Hook] = [ScheduleHook()]
    if cfg.gradient_noise_scale:  # before clipping: it measures the raw gradient
        hooks.append(GradientNoiseScale(cfg.noise_scale_every))
    if cfg.clip_grad_norm:
        hooks.append(ClipGradNorm(cfg.clip_grad_norm))
    if cfg.early_stopping_patience:
        hooks.append(EarlyStopping(cfg.early_stopping_patience))
    return hooks
