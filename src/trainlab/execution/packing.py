"""Which runs of a study may train together (trainlab.train.packed), decided from their configs before
anything is built: runs pack when every setting agrees except those a packed member keeps for itself - its
seed, its optimizer's hyperparameters (not the optimizer itself: plain SGD runs pack apart from momentum
runs, so that they pay for no momentum buffer), its schedule, its gradient clipping norm and early-stopping
patience - and its inputs (the runs it starts from). The driver packs the runs that are ready at the same
time (a lottery study's level after the level before). What only a built run can tell (data held as
tensors, no BatchNorm, ...) the runner checks again, and a run that fails it trains alone with a note.

`--pack` is execution, not config: it never changes a run's id or what the run computes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from trainlab.errors import TrainlabError
from trainlab.spec import RunSpec
from trainlab.spec.dotted import flatten

T = TypeVar("T")

OWN = {"train.seed", "train.clip_grad_norm", "train.early_stopping_patience"}  # each member keeps its own
OWN_OPTIMIZER = {"optim.lr", "optim.momentum", "optim.weight_decay", "optim.betas", "optim.eps"}
PACKED_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")  # those with a packed update rule
MAX_AUTO = 64  # members of a pack that `auto` forms at most


@dataclass(frozen=True)
class PackSetting:
    """--pack: auto (packs of up to MAX_AUTO where the runner finds packing faster), N (packs of up to N,
    always), off."""

    size: int
    measure: bool  # auto: the runner times a few packed steps against the same steps alone first

    @staticmethod
    def parse(text: str | int) -> PackSetting:
        value = str(text).strip().lower()
        if value == "auto":
            return PackSetting(MAX_AUTO, True)
        if value == "off":
            return PackSetting(1, False)
        if value.isdigit() and int(value) >= 1:
            return PackSetting(int(value), False)
        raise TrainlabError(f"--pack: {text!r} is not auto, off or a number of runs (1 or more)")


def pack_key(run: RunSpec) -> str | None:
    """What must agree for runs to pack (None: the run trains alone, see `why_alone`)."""
    config = flatten(run.config.to_dict())
    if config.get("optim.name") not in PACKED_OPTIMIZERS:
        return None
    shared = {k: v for k, v in config.items() if k not in OWN | OWN_OPTIMIZER and not k.startswith("schedule.")}
    return json.dumps(shared, sort_keys=True, default=str)


def why_alone(run: RunSpec) -> str:
    name = run.config.optim.name
    if name not in PACKED_OPTIMIZERS:
        return f"optimizer {name} has no packed update rule ({', '.join(PACKED_OPTIMIZERS)} have)"
    return "no other run shares its model, data and training settings"


def packs(units: Sequence[T], key_of: Callable[[T], str | None], size: int) -> list[list[T]]:
    """The units in groups of at most `size` that share a key (`key_of`: None for a unit that trains alone),
    in the order of each group's first unit; a key's units beyond `size` split evenly."""
    groups: dict[object, list[T]] = {}
    for unit in units:
        key = key_of(unit) if size > 1 else None
        groups.setdefault(key if key is not None else ("alone", unit.id), []).append(unit)  # type: ignore[attr-defined]
    return [chunk for group in groups.values() for chunk in _even(group, size)]


def _even(group: list[T], size: int) -> list[list[T]]:
    """The group in as few chunks of at most `size` as it needs, of sizes differing by one at most (5 runs
    with --pack 4: 3 and 2, not 4 and 1 alone)."""
    count = -(-len(group) // size)
    bounds = [len(group) * i // count for i in range(count + 1)]
    return [group[a:b] for a, b in zip(bounds, bounds[1:])]
