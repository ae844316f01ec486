"""`trainlab check`: validate a study and describe its plan, reading the store if there is one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trainlab.api.common import as_study, store_if_present, store_root
from trainlab.execution.driver import input_problem, packs_in_order
from trainlab.execution.packing import PackSetting
from trainlab.execution.units import Kind, Unit
from trainlab.registry import BUILT_IN
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


@dataclass(frozen=True)
class PluginUse:
    """A registry entry from the user's code that a study uses, and where it came from."""

    section: str  # model, data, optim, schedule, kind
    name: str
    origin: str  # registered from Python, entry point of DIST VERSION, import path
    source: str | None  # digest of its source (run ids cover it unless a `version` is stated)


def plugins_used(study: StudySpec | str | Path, units: Sequence[Unit]) -> list[PluginUse]:
    """The plugin entries behind the study's kind and its runs' configs, each once, in section order."""
    from trainlab.data import DATASETS
    from trainlab.models import MODELS
    from trainlab.optim import OPTIMIZERS, SCHEDULES
    from trainlab.studies.kind import KINDS

    study = as_study(study)
    registries = {"kind": KINDS, "data": DATASETS, "model": MODELS, "optim": OPTIMIZERS, "schedule": SCHEDULES}
    names = {("kind", study.kind)}
    names |= {(s, getattr(u.config, s).name) for u in units if hasattr(u, "config") for s in list(registries)[1:]}
    found = [(s, registries[s].get(n)) for s, n in sorted(names, key=lambda x: (list(registries).index(x[0]), x[1]))]
    return [PluginUse(s, e.name, e.origin, e.source) for s, e in found if e.origin != BUILT_IN]


@dataclass(frozen=True)
class PackLine:
    """A pack of `trainlab check`: runs that would train together, or one run alone and why."""

    ids: list[str]
    experiments: list[int]
    seeds: list[int]
    alone: str = ""  # why the run trains alone ("" for a pack)


def pack_plan(
    study: StudySpec | str | Path,
    overrides: Mapping[str, Any] | None = None,
    only: Sequence[int] | None = None,
    store: str | Path | None = None,
    pack: str | int = "auto",
) -> list[PackLine]:
    """How `trainlab run --pack PACK` would group the runs not done yet (from their configs; a pack that
    the built runs reveal unpackable, or that auto times slower, still trains one run at a time)."""
    setting = PackSetting.parse(pack)
    study = as_study(study)
    kind = kind_of(study)
    with store_if_present(store_root(study, store)) as db:
        units = kind.plan(study, overrides or {}, only, db)
        pending = [u for u in units if db is None or kind.status(u, db) not in DONE_STATUSES]
    keys = {u.id: kind.pack_key(u) for u in pending}
    sharing = Counter(k for k in keys.values() if k is not None)  # units per key in the whole plan
    return [
        PackLine(
            [u.id for u in group],
            [u.experiment for u in group],
            [u.seed for u in group],
            "" if len(group) > 1 else _why_alone(group[0], kind, setting, sharing[keys[group[0].id]]),
        )
        for group in packs_in_order(pending, lambda u: keys[u.id], setting.size)
    ]


def _why_alone(unit: Unit, kind: Kind, setting: PackSetting, sharing: int) -> str:
    if setting.size == 1:
        return "--pack off"
    if sharing > 1:
        return "the runs that share its settings are not ready at the same time (some start from results of others)"
    return kind.why_alone(unit)
