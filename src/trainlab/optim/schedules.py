"""Learning-rate schedules behind one interface, so the loop never asks which kind it has.

Epoch-wise schedules (plateau, step) act after each evaluation; step-wise ones (cosine,
warmup_cosine, noam) after every optimizer step.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, MultiStepLR, ReduceLROnPlateau, StepLR

from trainlab.spec.config import ScheduleConfig


class Schedule:
    """No schedule: the learning rate stays where the optimizer put it."""

    def __init__(self, scheduler: LRScheduler | ReduceLROnPlateau | None = None, per_step: bool = False):
        self.scheduler, self.per_step = scheduler, per_step

    def after_step(self) -> None:
        if self.per_step:
            self.scheduler.step()

    def after_epoch(self, valid_loss: float | None) -> None:
        if self.scheduler is None or self.per_step:
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            if valid_loss is not None:
                self.scheduler.step(valid_loss)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)


def _cosine_factor(progress: float, floor: float) -> float:
    """Half-cosine from 1 down to `floor` as progress goes 0 -> 1 (Loshchilov & Hutter 2017, SGDR)."""
    progress = min(max(progress, 0.0), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def none(opt: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> Schedule:
    return Schedule()


def plateau(opt: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> Schedule:
    return Schedule(ReduceLROnPlateau(opt, mode="min", factor=cfg.factor, patience=cfg.patience))


def step(opt: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> Schedule:
    if cfg.milestones:
        return Schedule(MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma))
    return Schedule(StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma))


def cosine(opt: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> Schedule:
    return _warmup_cosine(opt, cfg, total_steps, warmup=0)


def warmup_cosine(opt: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> Schedule:
    """Linear warmup, then cosine decay to min_lr (nanoGPT's schedule)."""
    return _warmup_cosine(opt, cfg, total_steps, warmup=cfg.warmup_steps)


def _warmup_cosine(opt: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int, warmup: int) -> Schedule:
    base_lr = opt.param_groups[0]["lr"]
    floor = cfg.min_lr / base_lr

    def factor(t: int) -> float:
        if t < warmup:
            return (t + 1) / (warmup + 1)
        return _cosine_factor((t - warmup) / max(1, total_steps - warmup), floor)

    return Schedule(LambdaLR(opt, factor), per_step=True)


def noam(opt: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> Schedule:
    """lr = lr_mul · d_model^-0.5 · min(t^-0.5, t · warmup^-1.5) at step t = 1, 2, ... (Vaswani et al. 2017,
    eq. 3, with the `lr_mul` of common reimplementations): linear warmup, then decay as 1/√t. It sets the
    learning rate itself; optim.lr is not used."""
    base_lr = opt.param_groups[0]["lr"]

    def factor(t: int) -> float:
        t += 1
        return cfg.lr_mul * cfg.d_model**-0.5 * min(t**-0.5, t * cfg.warmup_steps**-1.5) / base_lr

    return Schedule(LambdaLR(opt, factor), per_step=True)
