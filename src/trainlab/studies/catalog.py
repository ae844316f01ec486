"""The registries as the spec layer sees them, and the study plan they validate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainlab.data import DATASETS
from trainlab.models import MODELS
from trainlab.optim import OPTIMIZERS, SCHEDULES
from trainlab.registry import Registry
from trainlab.spec import Catalog, RunSpec, StudySpec, plan_study


def _schemas(registry: Registry[Any]) -> dict[str, Any]:
    return {entry.name: entry.config for entry in registry}


def catalog() -> Catalog:
    return Catalog(
        {
            "data": _schemas(DATASETS),
            "model": _schemas(MODELS),
            "optim": _schemas(OPTIMIZERS),
            "schedule": _schemas(SCHEDULES),
        }
    )


def plan(study: StudySpec, overrides: Mapping[str, Any] | None = None) -> list[RunSpec]:
    """The study's runs, validated against everything registered."""
    return plan_study(study, catalog(), overrides)
