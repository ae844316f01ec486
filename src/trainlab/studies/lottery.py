"""The `lottery` kind: iterative magnitude pruning with rewinding (Frankle & Carbin 2019; Frankle et al.
2020 for rewinding to step k), with OpenLTH's controls, for any registered model.

For every run of the grid (experiment × seed), level 0 is the dense run (the same run, and id, as in a
train study). Level L prunes `fraction` of the weights level L-1 kept, by magnitude of level L-1's trained
weights (per layer, or globally), and trains the survivors from level 0's weights at the rewind point.
Controls of level L: its mask with a fresh initialisation (`random_reinit`), and a random mask with its
per-layer sparsity, rewound like the ticket (`random_prune`). `one_shot` prunes the dense run once to
each given fraction, trained from the recorded initialisation and from a fresh one (the POSTECH study).
`start_grid` trains from a grid of starting points w0 + αx + βy, x = w* - w0 (the dense run's trained
minus initial weights), y a filter-normalised random direction, optionally one-shot pruned first (the
POSTECH study's "winning starting points"). Every level, control and grid point is its own run,
resumable, with its mask in runs/<id>/mask.pt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainlab.errors import TrainlabError
from trainlab.spec import KindSchema, PruneSpec, RunInput, RunSpec, StartPoint, StudySpec
from trainlab.store import Store
from trainlab.studies import pruning
from trainlab.studies.build import DataCache, build_model
from trainlab.studies.kind import KINDS
from trainlab.studies.train import TrainKind

Control = Literal["random_reinit", "random_prune"]


class StartGrid(BaseModel):
    """Starting points w0 + αx + βy for every (α, β) of the grid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alphas: list[float] = Field(min_length=1)
    betas: list[float] = Field(min_length=1)
    prune: float = Field(0.0, ge=0, lt=1)  # fraction of the dense run pruned once (magnitude) before training
    seed: int = Field(0, ge=0)  # of the random direction y


class LotterySection(BaseModel):
    """The `lottery:` section of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: int = Field(5, ge=0, le=100)  # pruning levels after the dense run
    fraction: float = Field(0.2, gt=0, lt=1)  # of the weights the previous level kept, pruned per level
    layer_fractions: dict[str, float] = {}  # parameter-name pattern -> its own fraction (e.g. the output layer)
    scope: Literal["layer", "global"] = "layer"
    prunable: list[str] = []  # parameter-name patterns; default: weights of Linear/Conv layers, not embeddings
    rewind: str = Field("init", pattern=r"^(init|epoch:[1-9]\d*|step:[1-9]\d*)$")  # where survivors restart
    controls: list[Control] = []
    one_shot: list[float] = []  # fractions of the dense run pruned at once, from recorded and from fresh init
    start_grid: StartGrid | None = None

    @field_validator("layer_fractions")
    @classmethod
    def _fractions_in_range(cls, fractions: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in fractions.items() if not 0 < v < 1}
        if bad:
            raise ValueError(f"each must be in (0, 1) (got {bad})")
        return fractions

    @field_validator("one_shot")
    @classmethod
    def _one_shot_in_range(cls, fractions: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in fractions):
            raise ValueError(f"each pruned fraction must be in (0, 1) (got {fractions})")
        return fractions

    def prune_spec(self, seed: int, **changes: Any) -> PruneSpec:
        spec = PruneSpec(amount=self.fraction, layer_amounts=tuple(self.layer_fractions.items()), scope=self.scope,
                         prunable=tuple(self.prunable), seed=seed)
        return replace(spec, **changes)


def _variant(base: RunSpec, number: int, role: str, level: int, labels: Mapping[str, Any] | None = None,
             what: str = "", **fields: Any) -> RunSpec:
    """A level or control of `base`: its own experiment number, the same config, labelled by its role
    and `what` sets it apart (default: its level)."""
    changes = {**base.changes, "lottery.run": role, "lottery.level": level, **(labels or {})}
    label = f"{base.label}, {role.replace('_', ' ')} {what or f'level {level}'}"
    return replace(base, experiment=number, changes=changes, label=label, **fields)


def lottery_runs(base: RunSpec, section: LotterySection, first: int) -> list[RunSpec]:
    """Level 0 (= `base`), the levels and their controls, then the one-shot runs, numbered from `first`."""
    rewind = RunInput(base.id, section.rewind)
    runs = [_variant(base, first, "ticket", 0)]
    previous = base
    for level in range(1, section.levels + 1):
        ticket = _variant(base, first + len(runs), "ticket", level, inputs=(rewind, RunInput(previous.id, "last", "prune")),
                          relation=f"level {level} pruned from", prune=section.prune_spec(base.seed))
        runs.append(ticket)
        own_mask = RunInput(ticket.id, "last", "prune")
        for control in section.controls:
            if control == "random_reinit":
                spec, inputs = section.prune_spec(base.seed, method="same", reinit=True), (own_mask,)
            else:
                spec, inputs = section.prune_spec(base.seed, method="random"), (rewind, own_mask)
            runs.append(_variant(base, first + len(runs), control, level, inputs=inputs,
                                 relation=f"{control.replace('_', ' ')} of", prune=spec))
        previous = ticket
    for amount in section.one_shot:
        for role, reinit in (("one_shot", False), ("one_shot_random_init", True)):
            spec = section.prune_spec(base.seed, amount=amount, layer_amounts=(), reinit=reinit)
            inputs = (RunInput(base.id, "last", "prune"),) if reinit else (rewind, RunInput(base.id, "last", "prune"))
            how = "pruned (fresh init) from" if reinit else "pruned from"
            runs.append(_variant(base, first + len(runs), role, 1, what=f"{amount:.0%} pruned", inputs=inputs,
                                 relation=f"one-shot {amount:.0%} {how}", prune=spec))
    if section.start_grid:
        runs += _start_grid(base, section, first + len(runs))
    return runs


def _start_grid(base: RunSpec, section: LotterySection, first: int) -> list[RunSpec]:
    grid = section.start_grid
    ends = (RunInput(base.id, "init"), RunInput(base.id, "last", "target"))
    pruned = (RunInput(base.id, "last", "prune"),) if grid.prune else ()
    spec = section.prune_spec(base.seed, amount=grid.prune, layer_amounts=()) if grid.prune else None
    points = [(a, b) for a in grid.alphas for b in grid.betas]
    return [_variant(base, first + i, "start_grid", 0, {"lottery.alpha": a, "lottery.beta": b},
                     f"alpha {a:g}, beta {b:g}", inputs=ends + pruned,
                     prune=spec, start=StartPoint(a, b, grid.seed), relation=f"start at alpha {a:g}, beta {b:g} from")
            for i, (a, b) in enumerate(points)]


class LotteryKind(TrainKind):
    """Iterative magnitude pruning with rewinding and controls, on every run of the grid."""

    schema = KindSchema(section=LotterySection, needs_base=True)

    def plan(self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None,
             store: Store | None) -> list[RunSpec]:
        bases = super().plan(study, overrides, None, store)
        per_base = len(lottery_runs(bases[0], study.section, 1))
        runs = [run for base in bases for run in lottery_runs(base, study.section, (base.experiment - 1) * per_base + 1)]
        return with_inputs(runs, only) if only else runs

    def preflight(self, units: Sequence[RunSpec], device: torch.device, data: DataCache) -> list[str]:
        notes = super().preflight(units, device, data)
        for run in units:
            if run.prune:
                with torch.device("meta"):
                    pruning.prunable(build_model(run.config, data.get(run.config).info), run.prune.prunable)
            for source in run.inputs:
                _check_rewind(source, run, data)
        return notes

    def report(self, records: Any, out: Path) -> list[tuple[str, str]]:
        from trainlab.report.lottery import lottery_sections

        return [*lottery_sections(records, out), *super().report(records, out)]


def with_inputs(runs: list[RunSpec], only: Sequence[int]) -> list[RunSpec]:
    """The runs of the experiments in `only`, and every run they need, in plan order."""
    numbers = sorted({r.experiment for r in runs})
    missing = [n for n in only if n not in numbers]
    if missing:
        raise TrainlabError(f"--only: no experiment {missing[0]}; this study has 1..{numbers[-1]}")
    by_id = {r.id: r for r in runs}
    needed = {r.id for r in runs if r.experiment in set(only)}
    frontier = list(needed)
    while frontier:
        for source in by_id[frontier.pop()].inputs:
            if source.run in by_id and source.run not in needed:
                needed.add(source.run)
                frontier.append(source.run)
    return [r for r in runs if r.id in needed]


def _check_rewind(source: RunInput, run: RunSpec, data: DataCache) -> None:
    """A rewind point the dense run never reaches is a mistake in the study, found before any training."""
    kind, _, number = source.checkpoint.partition(":")
    if kind not in ("step", "epoch"):
        return
    train = run.config.train
    per_epoch = data.get(run.config).train.num_batches(train.batch_size)
    steps, epochs = train.total_steps(per_epoch), train.max_epochs(per_epoch)
    if int(number) > (steps if kind == "step" else epochs):
        raise TrainlabError(f"lottery.rewind: {source.checkpoint} is beyond the dense run's {steps:,} steps "
                            f"({epochs} epochs)")


KINDS.register("lottery", LotteryKind())
