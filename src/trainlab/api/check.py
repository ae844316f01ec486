"""`trainlab check`: validate a study and describe its plan, reading the store if there is one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainlab.api.common import as_study, store_if_present, store_root
from trainlab.execution.driver import input_problem
from trainlab.execution.units import Unit
from trainlab.spec import StudySpec
from trainlab.store import DONE_STATUSES
from trainlab.studies.kind import PlanLine, kind_of
from trainlab.train.build import DataCache


def planned_runs(
    study: StudySpec | str | Path,
    overrides: Mapping[str, Any] | None = None,
    only: Sequence[int] | None = None,
    store: str | Path | None = None,
) -> list[Unit]:
    """The study's units (training runs for a train study), validated; nothing is built or written."""
    study = as_study(study)
    with store_if_present(store_root(study, store)) as db:
        return kind_of(study).plan(study, overrides or {}, only, db)


def check_study(
    study: StudySpec | str | Path,
    overrides: Mapping[str, Any] | None = None,
    only: Sequence[int] | None = None,
    store: str | Path | None = None,
) -> list[PlanLine]:
    """Validate and describe the plan; reads the store if it exists, never creates one."""
    study = as_study(study)
    kind = kind_of(study)
    with store_if_present(store_root(study, store)) as db:
        units = kind.plan(study, overrides or {}, only, db)
        lines = kind.describe(units, db, DataCache())
        if db is None:
            return lines
        pending = {u.id for u, line in zip(units, lines) if line.status not in DONE_STATUSES}
        blocked = [input_problem(u, db, pending, {}) not in (None, "waiting") for u in units]
        return [
            replace(line, status="blocked") if b and line.status == "new" else line for line, b in zip(lines, blocked)
        ]
