"""From a study to its plan: one RunSpec per (experiment, seed), each with a stable id.

An experiment is one entry of `runs:` combined with one point of `grid:` (entry-major order, numbered
from 1), so "experiment 3" means the same thing in `check`, the tables and the figures. Each config is
built in layers: base, then the run entry, then the grid point, then `--set`, then the seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from trainlab.errors import TrainlabError, did_you_mean, unknown_choice
from trainlab.spec.config import SECTIONS, SHARED_SCHEMAS, RunConfig, Section
from trainlab.spec.dotted import flatten
from trainlab.spec.study import StudySpec, format_validation_error

Layer = tuple[str, dict[str, Any]]  # (where it came from, flat dotted keys)
DEFAULT_NAMES = {"optim": "sgd", "schedule": "none"}


@dataclass(frozen=True)
class Catalog:
    """What the registries offer, as the spec needs it: section -> name -> config class."""

    choices: Mapping[str, Mapping[str, type[Section]]]

    def schema(self, section: str, name: str | None, where: str) -> type[Section]:
        if section == "train":
            return SHARED_SCHEMAS["train"]
        options = self.choices[section]
        if name is None:
            raise TrainlabError(f"{where}: {section}.name: missing; valid: {', '.join(sorted(options))}")
        if name not in options:
            raise unknown_choice(f"{where}: {section}.name", str(name), options)
        return options[name]


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: experiment number, seed, resolved config and what differs from base."""

    experiment: int
    seed: int
    config: RunConfig
    changes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return run_id(self.config)

    @property
    def label(self) -> str:
        """Human name of the experiment, e.g. 'optim.name=adam schedule.name=none'."""
        return " ".join(f"{k}={v}" for k, v in self.changes.items()) or "base"


def run_id(config: RunConfig) -> str:
    """Short hash of the canonical config: defaults left out, so new fields never rename old runs."""
    text = json.dumps(config.canonical(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _apply(tree: dict[str, dict[str, Any]], layer: Layer, catalog: Catalog) -> None:
    """Apply one layer of dotted keys; a new data/model name drops inherited keys it does not accept."""
    where, flat = layer
    for key in flat:
        section, _, fld = key.partition(".")
        if section not in SECTIONS:
            raise TrainlabError(
                f"{where}: {key}: unknown section {section!r}{did_you_mean(section, SECTIONS)};"
                f" valid: {', '.join(SECTIONS)}"
            )
        if not fld or "." in fld:
            raise TrainlabError(f"{where}: {key}: expected SECTION.FIELD, e.g. {section}.name")
    for section in SECTIONS:
        new_name = flat.get(f"{section}.name")
        current = tree.setdefault(section, {})
        if new_name is not None and new_name != current.get("name"):
            schema = catalog.schema(section, new_name, where)
            tree[section] = {k: v for k, v in current.items() if k in schema.model_fields}
    for key, value in flat.items():
        section, _, fld = key.partition(".")
        name = flat.get(f"{section}.name", tree[section].get("name", DEFAULT_NAMES.get(section)))
        schema = catalog.schema(section, name, where)
        if fld not in schema.model_fields:
            valid = [f"{section}.{f}" for f in schema.model_fields]
            raise TrainlabError(
                f"{where}: {key}: unknown field{did_you_mean(key, valid)}; valid: {', '.join(valid)}"
            )
        tree[section][fld] = value


def resolve(layers: Sequence[Layer], catalog: Catalog, where: str) -> RunConfig:
    """Merge layers into a validated RunConfig; errors name the dotted path."""
    tree: dict[str, dict[str, Any]] = {}
    for layer in layers:
        _apply(tree, layer, catalog)
    sections = {}
    for section in SECTIONS:
        values = tree.get(section, {})
        schema = catalog.schema(section, values.get("name", DEFAULT_NAMES.get(section)), where)
        try:
            sections[section] = schema.model_validate(values)
        except ValidationError as err:
            raise TrainlabError(f"{where}: {format_validation_error(err, section)}") from None
    return RunConfig(**sections)


def _grid_points(grid: Mapping[str, list[Any]] | None) -> list[dict[str, Any]]:
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def _changes(config: RunConfig, base: RunConfig) -> dict[str, Any]:
    """Dotted keys whose values differ from base, the seed left out (seeds are aggregated).

    Options base does not have (another model's) count only where they differ from their defaults.
    """
    ours, theirs, set_here = flatten(config.to_dict()), flatten(base.to_dict()), flatten(config.canonical())
    return {
        k: v
        for k, v in ours.items()
        if k != "train.seed" and (theirs[k] != v if k in theirs else k in set_here)
    }


def plan_study(
    study: StudySpec, catalog: Catalog, overrides: Mapping[str, Any] | None = None
) -> list[RunSpec]:
    """Every run of the study, in experiment order, seeds innermost."""
    if study.kind != "train":
        raise TrainlabError(f"{study.name}: a {study.kind} study has no training plan")
    base_layer: Layer = ("base", flatten(study.base or {}))
    set_layer: Layer = ("--set", dict(overrides or {}))
    base = resolve([base_layer, set_layer], catalog, "base")
    entries = study.runs or [{}]
    points = _grid_points(study.grid)
    plan = []
    for number, (i, entry, point) in enumerate(
        ((i, e, p) for i, e in enumerate(entries, 1) for p in points), start=1
    ):
        layers = [base_layer, (f"runs[{i}]", entry), ("grid", point), set_layer]
        where = f"experiment {number}"
        config = resolve(layers, catalog, where)
        changes = _changes(config, base)
        for seed in study.seeds or [config.train.seed]:
            seeded = resolve([*layers, ("seeds", {"train.seed": seed})], catalog, where)
            plan.append(RunSpec(number, seed, seeded, changes))
    return plan


def select_experiments(plan: list[RunSpec], only: Sequence[int]) -> list[RunSpec]:
    """Keep the runs of the given experiment numbers; unknown numbers are an error."""
    numbers = sorted({r.experiment for r in plan})
    missing = [n for n in only if n not in numbers]
    if missing:
        raise TrainlabError(f"--only: no experiment {missing[0]}; this study has 1..{numbers[-1]}")
    return [r for r in plan if r.experiment in set(only)]
