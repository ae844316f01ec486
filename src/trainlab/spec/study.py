"""The study file: YAML in, a validated StudySpec out; every mistake reported with where it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trainlab.errors import TrainlabError, did_you_mean
from trainlab.spec.dotted import flatten
from trainlab.spec.landscape import LandscapeStudy

Kind = Literal["train", "landscape"]


class StudySpec(BaseModel):
    """A grid of runs: base config, optional numbered run entries, optional grid, seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    kind: Kind = "train"
    store: str | None = None
    base: dict[str, Any] | None = None
    runs: list[dict[str, Any]] | None = None
    grid: dict[str, list[Any]] | None = None
    seeds: list[int] | None = None
    landscape: LandscapeStudy | None = None  # kind: landscape

    @model_validator(mode="after")
    def _sections_match_kind(self) -> StudySpec:
        if self.kind == "train" and self.base is None:
            raise ValueError("base: a train study needs a base run config")
        if self.kind == "landscape" and self.landscape is None:
            raise ValueError("landscape: a landscape study needs a landscape section (study: NAME, ...)")
        return self

    @field_validator("runs")
    @classmethod
    def _flatten_runs(cls, runs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if runs is not None and not runs:
            raise ValueError("must list at least one run (or leave `runs:` out)")
        return None if runs is None else [flatten(entry) for entry in runs]

    @field_validator("grid")
    @classmethod
    def _grid_axes_not_empty(cls, grid: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        for key, values in (grid or {}).items():
            if not values:
                raise ValueError(f"{key}: needs at least one value")
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


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming the dotted path: `optim.lr: Input should be greater than 0 (got -1)`."""
    lines = []
    for e in err.errors():
        path = ".".join(str(part) for part in (prefix, *e["loc"]) if part != "")
        got = f" (got {e['input']!r})" if e["type"] != "missing" and "input" in e else ""
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{path or 'value'}: {msg}{got}")
    return "; ".join(lines)


def parse_study(raw: Any, source: str = "study") -> StudySpec:
    """Validate an already-parsed study mapping."""
    if not isinstance(raw, dict):
        raise TrainlabError(f"{source}: a study must be a mapping with name, base, ... (got {type(raw).__name__})")
    unknown = [k for k in raw if k not in StudySpec.model_fields]
    if unknown:
        key = unknown[0]
        fields = ", ".join(StudySpec.model_fields)
        raise TrainlabError(
            f"{source}: {key}: unknown field{did_you_mean(key, StudySpec.model_fields)}; valid: {fields}"
        )
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as err:
        raise TrainlabError(f"{source}: {format_validation_error(err)}") from None


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file; YAML errors name the line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainlabError(f"{path}: no such study file") from None
    except OSError as err:
        raise TrainlabError(f"{path}: cannot read ({err.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise TrainlabError(f"{where}: invalid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise TrainlabError(f"{path}: invalid YAML: {err}") from None
    return parse_study(raw, source=str(path))
