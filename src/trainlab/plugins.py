"""Registering the user's code from Python (a notebook, a script), under a short name that study files and
`--set` can use: `trainlab.register_model("tiny", build, TinyConfig)`. The same entries can come from an
installed package's entry points (groups `trainlab.models`, `trainlab.datasets`, `trainlab.tasks`,
`trainlab.optimizers`, `trainlab.schedules`, `trainlab.kinds`) or be named by import path in the study file
(`model: {name: "my_pkg.nets:TinyNet", width: 64}`); the registries' docstrings say what each may be.

Registered entries live in this process: with `--workers` or Ray, name plugins by import path or entry point
(a worker process finds them again), not by a name registered here."""

from __future__ import annotations

import importlib
from typing import Any

ORIGIN = "registered from Python"
HOMES = {
    "model": ("trainlab.models", "MODELS"),
    "dataset": ("trainlab.data", "DATASETS"),
    "task": ("trainlab.train.tasks", "TASKS"),
    "optimizer": ("trainlab.optim", "OPTIMIZERS"),
    "schedule": ("trainlab.optim", "SCHEDULES"),
    "kind": ("trainlab.studies.kind", "KINDS"),
}


def _register(what: str, name: str, target: Any, config: Any = None) -> Any:
    module, registry = HOMES[what]
    if what == "kind":
        importlib.import_module("trainlab.studies")  # the built-in kinds first: a plugin may not take their names
    return getattr(importlib.import_module(module), registry).add_plugin(name, target, ORIGIN, config)


def register_model(name: str, build: Any, config: Any = None) -> Any:
    """A model: `build(config, info)` with its pydantic `config` class, or a callable whose keyword options
    (and `info`, the data's DataInfo, if it takes one) make its config."""
    return _register("model", name, build, config)


def register_dataset(name: str, load: Any, config: Any = None) -> Any:
    """A dataset: `load(config)` with its pydantic `config` class, or a callable of keyword options; it
    returns a DataBundle, or (train, valid[, test]) pairs of (x, y) tensors with integer labels."""
    return _register("dataset", name, load, config)


def register_task(name: str, task: Any) -> Any:
    """A task: a subclass of trainlab.train.tasks.TaskBase, named by the DataInfo of the data it fits."""
    return _register("task", name, task)


def register_optimizer(name: str, optimizer: Any) -> Any:
    """An optimizer: a torch.optim.Optimizer class, or a builder `build(params, OptimConfig)`."""
    return _register("optimizer", name, optimizer)


def register_schedule(name: str, build: Any) -> Any:
    """A learning-rate schedule: `build(optimizer, ScheduleConfig, total_steps) -> Schedule`."""
    return _register("schedule", name, build)


def register_kind(name: str, kind: Any) -> Any:
    """A study kind: a trainlab.studies.kind.StudyKind subclass or instance."""
    return _register("kind", name, kind)
