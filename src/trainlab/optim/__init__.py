"""Optimizer and schedule registries (their configs are the shared OptimConfig / ScheduleConfig)."""

from trainlab.optim import optimizers, schedules
from trainlab.optim.schedules import Schedule
from trainlab.registry import Registry
from trainlab.spec.config import OptimConfig, ScheduleConfig

OPTIMIZERS = Registry("optim")
for _name in ("sgd", "momentum", "nesterov", "adam", "adamw"):
    OPTIMIZERS.register(_name, getattr(optimizers, _name), OptimConfig)

SCHEDULES = Registry("schedule")
for _name in ("none", "plateau", "step", "cosine", "warmup_cosine", "noam"):
    SCHEDULES.register(_name, getattr(schedules, _name), ScheduleConfig)

__all__ = ["OPTIMIZERS", "SCHEDULES", "Schedule"]
