"""The registries as the spec layer sees them: study files and plans validated against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlab import spec
from trainlab.data import DATASETS
from trainlab.models import MODELS
from trainlab.optim import OPTIMIZERS, SCHEDULES
from trainlab.spec import Catalog, RunSpec, StudySpec, plan_study
from trainlab.studies.kind import kind_schemas


def catalog() -> Catalog:
    return Catalog(
        {
            "data": DATASETS.configs(),
            "model": MODELS.configs(),
            "optim": OPTIMIZERS.configs(),
            "schedule": SCHEDULES.configs(),
        }
    )


def load_study(path: str | Path) -> StudySpec:
    """Read a study file and validate it against every registered kind."""
    return spec.load_study(path, kind_schemas())


def parse_study(raw: Any, source: str = "study") -> StudySpec:
    return spec.parse_study(raw, kind_schemas(), source)


def plan(
    study: StudySpec, overrides: Mapping[str, Any] | None = None, only: Sequence[int] | None = None
) -> list[RunSpec]:
    """The study's grid of runs, validated against everything registered."""
    return plan_study(study, catalog(), overrides, only)
