"""The study file: YAML in, a validated StudySpec out; every mistake reported with where it is.

A study's `kind:` picks an entry of the kinds registry (trainlab.studies). The spec layer does not know
the kinds: it receives their schemas (`KindSchema`) as an argument, as it receives the model and data
config classes through a Catalog, so `trainlab.spec` stays free of torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainlab.errors import TrainlabError, did_you_mean, unknown_choice
from trainlab.spec.dotted import flatten
from trainlab.spec.yaml_text import load_yaml

# Names become folders (reports) and keys; a slug can never climb out of them (`../x`, `/etc`).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


@dataclass(frozen=True)
class KindSchema:
    """What the study file of one kind holds: its own section (under the kind's name) and whether it
    has a grid of runs (base / runs / grid / seeds)."""

    section: type[BaseModel] | None = None
    needs_base: bool = True
    key: str | None = None  # the section's key in the study file; default: the kind's name


class StudySpec(BaseModel):
    """A grid of runs: base config, optional numbered run entries, optional grid, seeds; and the
    kind's own section, if its kind has one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    description: str = ""
    kind: str = "train"
    store: str | None = None
    base: dict[str, Any] | None = None
    runs: list[dict[str, Any]] | None = None
    grid: dict[str, list[Any]] | None = None
    seeds: list[int] | None = None
    section: Any = None  # the kind's section, validated by its schema; `landscape:` in a landscape study
    section_key: str | None = None  # where the section is in the file (the kind's name, unless it says)

    @field_validator("runs")
    @classmethod
    def _flatten_runs(cls, runs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if runs is not None and not runs:
            raise ValueError("must list at least one run (or leave `runs:` out)")
        for i, entry in enumerate(runs or [], 1):
            if "label" in entry and not isinstance(entry["label"], str):
                raise ValueError(f"runs[{i}].label: must be a string (got {entry['label']!r})")
        return None if runs is None else [flatten(entry) for entry in runs]

    @field_validator("grid")
    @classmethod
    def _grid_axes_not_empty(cls, grid: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        for key, values in (grid or {}).items():
            if not values:
                raise ValueError(f"{key}: needs at least one value")
            for value in values:
                if isinstance(value, dict) and set(value) != {"value", "label"}:
                    raise ValueError(f"{key}: a labelled value is written {{value: V, label: TEXT}} (got {value!r})")
        return grid

    @field_validator("seeds")
    @classmethod
    def _seeds_distinct(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None:
            if not seeds:
                raise ValueError("must list at least one seed (or leave `seeds:` out)")
            if len(set(seeds)) != len(seeds) or min(seeds) < 0:
                raise ValueError(f"must be distinct non-negative integers (got {seeds})")
        return seeds

    def to_dict(self) -> dict[str, Any]:
        """The study as its file writes it (the kind's section under the kind's name), for the store."""
        out = self.model_dump(mode="json", exclude={"section", "section_key"})
        if self.section is not None:
            out[self.section_key or self.kind] = self.section.model_dump(mode="json")
        return out


COMMON_FIELDS = [f for f in StudySpec.model_fields if f not in ("section", "section_key")]


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming the dotted path: `optim.lr: Input should be greater than 0 (got -1)`."""
    lines = []
    for e in err.errors():
        path = ".".join(str(part) for part in (prefix, *e["loc"]) if part != "")
        msg = e["msg"].removeprefix("Value error, ")
        shown = e["type"] != "missing" and "input" in e and "(got " not in msg  # a validator may have said it
        got = f" (got {e['input']!r})" if shown else ""
        if e["type"] == "string_pattern_mismatch" and e["loc"] == ("name",):
            msg = "must be letters, digits, '.', '_' or '-', starting with a letter or digit (it names folders)"
        lines.append(f"{path or 'value'}: {msg}{got}")
    return "; ".join(lines)


def _validate(model: type[BaseModel], raw: Any, source: str, prefix: str = "") -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise TrainlabError(f"{source}: {format_validation_error(err, prefix)}") from None


def parse_study(raw: Any, kinds: Mapping[str, KindSchema], source: str = "study") -> StudySpec:
    """Validate an already-parsed study mapping against the registered kinds."""
    if not isinstance(raw, dict):
        raise TrainlabError(f"{source}: a study must be a mapping with name, base, ... (got {type(raw).__name__})")
    kind = raw.get("kind", "train")
    try:
        schema = kinds[kind] if isinstance(kind, str) else None
    except KeyError:
        schema = None
    except TrainlabError as err:  # a kind plugin that cannot be loaded
        raise TrainlabError(f"{source}: kind: {err}") from None
    if schema is None:
        raise unknown_choice(f"{source}: kind", str(kind), kinds)
    key = schema.key or kind
    fields = [*COMMON_FIELDS, *([key] if schema.section else [])]
    unknown = [k for k in raw if k not in fields]
    if unknown:
        bad = unknown[0]
        raise TrainlabError(f"{source}: {bad}: unknown field{did_you_mean(bad, fields)}; valid: {', '.join(fields)}")
    common = {k: v for k, v in raw.items() if k != key or not schema.section}
    if schema.section:  # may be left out when every field of it has a default
        common["section_key"] = key
        if raw.get(key) is None and any(f.is_required() for f in schema.section.model_fields.values()):
            raise TrainlabError(f"{source}: {key}: a {kind} study needs a {key} section")
        common["section"] = _validate(schema.section, raw.get(key) or {}, source, key)
    study = _validate(StudySpec, common, source)
    if schema.needs_base and study.base is None:
        raise TrainlabError(f"{source}: base: a {kind} study needs a base run config")
    return study


def load_study(path: str | Path, kinds: Mapping[str, KindSchema]) -> StudySpec:
    """Read and validate a study file; YAML errors name the line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainlabError(f"{path}: no such study file") from None
    except IsADirectoryError:
        raise TrainlabError(f"{path}: a folder, not a study file") from None
    except OSError as err:
        raise TrainlabError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise TrainlabError(f"{path}: not a text file (byte {err.start} is not UTF-8); a study is YAML text") from None
    try:
        raw = load_yaml(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise TrainlabError(f"{where}: invalid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:  # a reader's error (a control character) says where on a second line
        raise TrainlabError(f"{path}: invalid YAML: {' '.join(str(err).split())}") from None
    return parse_study(raw, kinds, source=str(path))
