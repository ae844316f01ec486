"""A lottery study's runs: for each run of the grid, its pruning levels, their controls, the one-shot runs
and the starting-point grid, each an ordinary run with inputs (Frankle & Carbin 2019; OpenLTH's controls;
the POSTECH study's grid)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.spec import RunInput, RunSpec
from trainlab.studies.lottery.section import (
    ALPHA,
    BETA,
    LEVEL,
    ONE_SHOT,
    ONE_SHOT_FRESH,
    PRUNE,
    PRUNE_KEY,
    RANDOM_REINIT,
    ROLE,
    START_GRID,
    START_KEY,
    TARGET,
    TICKET,
    LotterySection,
    PruneSpec,
    StartPoint,
)


def _variant(
    base: RunSpec,
    number: int,
    role: str,
    level: int,
    labels: Mapping[str, Any] | None = None,
    what: str = "",
    inputs: tuple[RunInput, ...] = (),
    relation: str | None = None,
    prune: PruneSpec | None = None,
    start: StartPoint | None = None,
) -> RunSpec:
    """A level or control of `base`: its own experiment number, the same config, labelled by its role and
    `what` sets it apart (default: its level); its parent is the run it prunes."""
    changes = {**base.changes, ROLE: role, LEVEL: level, **(labels or {})}
    label = f"{base.label}, {role.replace('_', ' ')} {what or f'level {level}'}"
    recipe = {key: part for key, part in ((PRUNE_KEY, prune), (START_KEY, start)) if part is not None}
    parent = next((i.run for i in inputs if i.role == PRUNE), None)
    return replace(
        base,
        experiment=number,
        changes=changes,
        label=label,
        inputs=inputs,
        relation=relation,
        recipe=recipe,
        parent_id=parent,
    )


def lottery_runs(base: RunSpec, section: LotterySection, first: int) -> list[RunSpec]:
    """Level 0 (= `base`), the levels and their controls, then the one-shot runs, numbered from `first`."""
    rewind = RunInput(base.id, section.rewind)
    runs = [_variant(base, first, TICKET, 0)]
    previous = base
    for level in range(1, section.levels + 1):
        ticket = _variant(
            base,
            first + len(runs),
            TICKET,
            level,
            inputs=(rewind, RunInput(previous.id, "last", PRUNE)),
            relation=f"level {level} pruned from",
            prune=section.prune_spec(base.seed),
        )
        runs.append(ticket)
        own_mask = RunInput(ticket.id, "last", PRUNE)
        for control in section.controls:
            if control == RANDOM_REINIT:
                spec, inputs = section.prune_spec(base.seed, method="same", reinit=True), (own_mask,)
            else:
                spec, inputs = section.prune_spec(base.seed, method="random"), (rewind, own_mask)
            runs.append(
                _variant(
                    base,
                    first + len(runs),
                    control,
                    level,
                    inputs=inputs,
                    relation=f"{control.replace('_', ' ')} of",
                    prune=spec,
                )
            )
        previous = ticket
    for amount in section.one_shot:
        for role, reinit in ((ONE_SHOT, False), (ONE_SHOT_FRESH, True)):
            spec = section.prune_spec(base.seed, amount=amount, layer_amounts=(), reinit=reinit)
            pruned = RunInput(base.id, "last", PRUNE)
            how = "pruned (fresh init) from" if reinit else "pruned from"
            runs.append(
                _variant(
                    base,
                    first + len(runs),
                    role,
                    1,
                    what=f"{amount:.0%} pruned",
                    inputs=(pruned,) if reinit else (rewind, pruned),
                    relation=f"one-shot {amount:.0%} {how}",
                    prune=spec,
                )
            )
    if section.start_grid:
        runs += _start_grid(base, section, first + len(runs))
    return runs


def _start_grid(base: RunSpec, section: LotterySection, first: int) -> list[RunSpec]:
    grid = section.start_grid
    ends = (RunInput(base.id, "init"), RunInput(base.id, "last", TARGET))
    pruned = (RunInput(base.id, "last", PRUNE),) if grid.prune else ()
    spec = section.prune_spec(base.seed, amount=grid.prune, layer_amounts=()) if grid.prune else None
    points = [(a, b) for a in grid.alphas for b in grid.betas]
    return [
        _variant(
            base,
            first + i,
            START_GRID,
            0,
            {ALPHA: a, BETA: b},
            f"alpha {a:g}, beta {b:g}",
            inputs=ends + pruned,
            prune=spec,
            start=StartPoint(a, b, grid.seed),
            relation=f"start at alpha {a:g}, beta {b:g} from",
        )
        for i, (a, b) in enumerate(points)
    ]


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
