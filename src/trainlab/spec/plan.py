"""From a study to its plan: one RunSpec per (experiment, seed), each with a stable id.

An experiment is one entry of `runs:` combined with one point of `grid:` (entry-major order, numbered
from 1), so "experiment 3" means the same thing in `check`, the tables and the figures. Each config is
built in layers: base, then the run entry, then the grid point, then `--set`, then the seed.

A run may start from another run's checkpoint (`RunInput`); its id then covers that input too, so the
same request is the same run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from trainlab.errors import TrainlabError, did_you_mean, unknown_choice
from trainlab.spec.config import SECTIONS, SHARED_SCHEMAS, RunConfig, Section
from trainlab.spec.dotted import flatten
from trainlab.spec.labels import LABEL, experiment_label, split_grid_value
from trainlab.spec.study import StudySpec, format_validation_error

Layer = tuple[str, dict[str, Any]]  # (where it came from, flat dotted keys)
DEFAULT_NAMES = {"optim": "sgd", "schedule": "none"}
# Planning resolves and validates every run; above this many, a plan is a mistake more often than a study
# (and would take minutes before printing anything). --only plans a few experiments of any size of grid.
MAX_PLANNED_RUNS = 20_000
CHECKPOINT_PATTERN = re.compile(r"^(init|best|last|epoch:[1-9]\d*|step:[1-9]\d*)$")


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
        try:
            return options[name]
        except KeyError:
            raise unknown_choice(f"{where}: {section}.name", str(name), options) from None
        except TrainlabError as err:  # a plugin that cannot be loaded
            raise TrainlabError(f"{where}: {section}.name: {err}") from None


@dataclass(frozen=True)
class RunInput:
    """A checkpoint of another run that a run needs (init, best, last, epoch K or step K) and its `role`:
    `weights` (the default) starts the run from it; a kind may name other roles for what its runs do with
    an input (its Start reads them)."""

    run: str  # the other run's id
    checkpoint: str = "best"
    role: str = "weights"

    def __post_init__(self) -> None:
        if not CHECKPOINT_PATTERN.match(self.checkpoint):
            raise TrainlabError(f"checkpoint {self.checkpoint!r}: expected init, best, last, epoch:K or step:K")

    def as_dict(self) -> dict[str, str]:
        """What the run id hashes: the role only when it is not the default (ids of weights inputs stay)."""
        out = {"run": self.run, "checkpoint": self.checkpoint}
        return out if self.role == "weights" else {**out, "role": self.role}


class IdPart(Protocol):
    """Something a kind adds to how a run is made, beyond its config and inputs: part of its id."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: experiment number, seed, resolved config and what differs from base; and,
    for a run that starts from another run, its inputs and how it relates to its parent; and, for a run a
    kind makes in its own way, that kind's `recipe` (key -> part, hashed into the id under its key)."""

    experiment: int
    seed: int
    config: RunConfig
    changes: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[RunInput, ...] = ()
    relation: str | None = None  # e.g. "level 3 of", "random reinit of"
    recipe: Mapping[str, IdPart] = field(default_factory=dict)
    parent_id: str | None = None  # the run it comes from, when not its first input's
    label: str = ""  # the experiment's readable name (trainlab.spec.labels); not part of the id

    @property
    def id(self) -> str:
        return run_id(self.config, self.inputs, self.recipe)

    @property
    def parent(self) -> str | None:
        """The run this one comes from: `parent_id`, else its first input's run."""
        return self.parent_id or next((i.run for i in self.inputs), None)

    def inputs_for(self, role: str) -> list[RunInput]:
        return [i for i in self.inputs if i.role == role]


def run_id(config: RunConfig, inputs: Sequence[RunInput] = (), recipe: Mapping[str, IdPart] | None = None) -> str:
    """Short hash of the canonical config: defaults left out, so new fields never rename old runs.
    A run's inputs and its kind's recipe join the hash under keys no config section can have; runs
    without them keep the hash of their config alone."""
    canonical: dict[str, Any] = config.canonical()
    parts = {"inputs": [i.as_dict() for i in inputs], **{k: v.as_dict() for k, v in (recipe or {}).items()}}
    for key, value in parts.items():
        if key in SECTIONS:
            raise ValueError(f"recipe key {key!r} is a config section")
        if value:
            canonical = {**canonical, key: value}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
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
            raise TrainlabError(f"{where}: {key}: unknown field{did_you_mean(key, valid)}; valid: {', '.join(valid)}")
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


class Grid:
    """The experiments of a study without expanding them: experiment n (from 1) is entry (n-1) // points
    with grid point (n-1) % points, whose coordinates are the digits of a mixed-radix number (last key
    fastest, as itertools.product), so a few experiments of a huge grid cost nothing to find."""

    def __init__(self, study: StudySpec) -> None:
        raw = study.runs or [{}]
        self.entries = [{k: v for k, v in entry.items() if k != LABEL} for entry in raw]
        self.entry_labels = [entry.get(LABEL) for entry in raw]
        self.axes = [(key, [split_grid_value(v) for v in values]) for key, values in (study.grid or {}).items()]
        self.points = math.prod(len(values) for _, values in self.axes)
        self.experiments = len(self.entries) * self.points
        self.seeds_per_experiment = len(study.seeds or [None])
        # what the study varies, names first (model, data, optimizer, ...), then in the order the study names
        # them: what generated labels are made of
        named = list(dict.fromkeys([*(k for e in self.entries for k in e), *(k for k, _ in self.axes)]))
        self.swept = sorted(
            named,
            key=lambda k: (
                not k.endswith(".name"),
                SECTIONS.index(k.split(".")[0]) if k.endswith(".name") and k.split(".")[0] in SECTIONS else 0,
            ),
        )

    def experiment(self, number: int) -> tuple[int, dict[str, Any], dict[str, Any], dict[str, str]]:
        """(1-based entry index, the entry, the grid point, the labels its grid values were given) of
        experiment `number`."""
        entry, index = divmod(number - 1, self.points)
        point, labels = {}, {}
        for key, values in reversed(self.axes):
            index, digit = divmod(index, len(values))
            point[key], label = values[digit]
            if label is not None:
                labels[key] = label
        return entry + 1, self.entries[entry], dict(reversed(point.items())), labels

    def label(self, entry: int, point_labels: Mapping[str, str], config: RunConfig) -> str:
        """The readable name of the experiment of (1-based) `entry` with this grid point's labels."""
        entry_keys = {k for e in self.entries for k in e}  # a labelled entry names what the entries vary
        return experiment_label(
            self.swept,
            flatten(config.to_dict()),
            point_labels,
            self.entry_labels[entry - 1],
            entry_keys,
            ("model.name", "optim.name"),
        )

    def numbers(self, only: Sequence[int] | None) -> Sequence[int]:
        """The experiments planned: those in `only`, else all of them (a range: a refused grid of millions
        is never listed)."""
        if not only:
            return range(1, self.experiments + 1)
        missing = [n for n in only if not 1 <= n <= self.experiments]
        if missing:
            raise TrainlabError(f"--only: no experiment {missing[0]}; this study has 1..{self.experiments}")
        return sorted(set(only))

    def check_size(self, numbers: Sequence[int]) -> None:
        runs = len(numbers) * self.seeds_per_experiment
        if runs > MAX_PLANNED_RUNS:
            shape = " × ".join(
                [
                    f"{len(self.entries)} run entries",
                    *(f"{len(v)} {k}" for k, v in self.axes),
                    f"{self.seeds_per_experiment} seeds",
                ]
            )
            raise TrainlabError(
                f"grid: {runs:,} runs ({shape}) is more than the {MAX_PLANNED_RUNS:,} a plan may hold; "
                "narrow the grid, split the study, or plan some experiments with --only"
            )


def _changes(config: RunConfig, base: RunConfig) -> dict[str, Any]:
    """Dotted keys whose values differ from base, the seed left out (seeds are aggregated).

    Options base does not have (another model's) count only where they differ from their defaults.
    """
    ours, theirs, set_here = flatten(config.to_dict()), flatten(base.to_dict()), flatten(config.canonical())
    return {k: v for k, v in ours.items() if k != "train.seed" and (theirs[k] != v if k in theirs else k in set_here)}


def plan_study(
    study: StudySpec, catalog: Catalog, overrides: Mapping[str, Any] | None = None, only: Sequence[int] | None = None
) -> list[RunSpec]:
    """Every run of the study (or of the experiments in `only`), in experiment order, seeds innermost."""
    grid = Grid(study)
    numbers = grid.numbers(only)
    grid.check_size(numbers)
    return list(_plan(study, catalog, grid, numbers, overrides or {}))


def _plan(
    study: StudySpec, catalog: Catalog, grid: Grid, numbers: Sequence[int], overrides: Mapping[str, Any]
) -> Iterator[RunSpec]:
    base_layer: Layer = ("base", flatten(study.base or {}))
    set_layer: Layer = ("--set", dict(overrides))
    base = resolve([base_layer, set_layer], catalog, "base")
    for number in numbers:
        i, entry, point, point_labels = grid.experiment(number)
        layers = [base_layer, (f"runs[{i}]", entry), ("grid", point), set_layer]
        where = f"experiment {number}"
        config = resolve(layers, catalog, where)
        changes = _changes(config, base)
        label = grid.label(i, point_labels, config)
        for seed in study.seeds or [config.train.seed]:
            seeded = resolve([*layers, ("seeds", {"train.seed": seed})], catalog, where)
            yield RunSpec(number, seed, seeded, changes, label=label)
