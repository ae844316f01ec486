"""Optimizer and schedule registries (their configs are the shared OptimConfig / ScheduleConfig)."""

from trainlab.optim import optimizers, schedules
from trainlab.optim.plugin import optimizer_plugin, schedule_plugin
from trainlab.optim.schedules import Schedule
from trainlab.registry import Registry
from trainlab.spec.config import OptimConfig, ScheduleConfig

OPTIMIZERS = Registry("optim", "trainlab.optimizers", optimizer_plugin)
for _name in ("sgd", "momentum", "nesterov", "adam", "adamw"):
    OPTIMIZERS.register(_name, getattr(optimizers, _name), OptimConfig)

SCHEDULES = Registry("schedule", "trainlab.schedules", schedule_plugin)
for _name in ("none", "plateau", "step", "cosine", "warmup_cosine", "noam"):
    SCHEDULES.register(_name, getattr(schedules, _name), ScheduleConfig)

__all__ = ["OPTIMIZERS", "SCHEDULES", "Schedule"]
