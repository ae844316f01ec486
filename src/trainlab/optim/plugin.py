"""Optimizers and schedules from the user's code (import paths, entry points of groups `trainlab.optimizers`
and `trainlab.schedules`, or `trainlab.register_optimizer` / `register_schedule`). Both keep the shared
`optim` / `schedule` schemas, so `optim.lr` still carries across a change of optimizer:
- an optimizer is a torch.optim.Optimizer class, given the params and those of lr, weight_decay, momentum,
  betas and eps its signature names; or a builder `build(params, OptimConfig)`;
- a schedule is a builder `build(optimizer, ScheduleConfig, total_steps) -> Schedule`, as the built-ins are.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from trainlab.errors import TrainlabError
from trainlab.registry import Entry
from trainlab.spec.config import OptimConfig, ScheduleConfig
from trainlab.spec.plugin import shared_config

SHARED_OPTIONS = ("lr", "weight_decay", "momentum", "betas", "eps")


def optimizer_plugin(name: str, target: Any, own: Any = None) -> Entry[Any]:
    if isinstance(target, type) and issubclass(target, torch.optim.Optimizer):
        accepted = [k for k in SHARED_OPTIONS if k in inspect.signature(target).parameters]

        def make(params: Any, cfg: OptimConfig) -> Any:
            return target(params, **{k: getattr(cfg, k) for k in accepted})

    elif callable(target):
        make = target
    else:
        raise TrainlabError(f"optim {name!r}: {type(target).__name__} is neither an Optimizer class nor a builder")

    def build(params: Any, cfg: OptimConfig) -> torch.optim.Optimizer:
        optimizer = _called(make, f"optim {name!r}", params, cfg)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TrainlabError(f"optim {name!r}: built a {type(optimizer).__name__}, not a torch.optim.Optimizer")
        return optimizer

    config = shared_config(OptimConfig, "optim", name, target)
    return Entry(name, build, config, source=config.plugin_source)


def schedule_plugin(name: str, target: Any, own: Any = None) -> Entry[Any]:
    if not callable(target):
        raise TrainlabError(f"schedule {name!r}: {type(target).__name__} is not a builder")
    config = shared_config(ScheduleConfig, "schedule", name, target)

    def build(optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> Any:
        return _called(target, f"schedule {name!r}", optimizer, cfg, total_steps)

    return Entry(name, build, config, source=config.plugin_source)


def _called(function: Any, what: str, *args: Any) -> Any:
    try:
        return function(*args)
    except TrainlabError:
        raise
    except Exception as err:  # the user's code, on these options
        raise TrainlabError(f"{what}: building it raised {type(err).__name__}: {err}") from None
