"""Which runs of a study may train together (trainlab.train.packed), decided from their configs before
anything is built: runs pack when every setting agrees except those a packed member keeps for itself - its
seed, its optimizer (any of those with a packed update rule) and the optimizer's hyperparameters, its
schedule, its gradient clipping norm and early-stopping patience - and its inputs (the runs it starts from).
A pack's members share one forward and backward pass; each kind of optimizer updates its own members. The
driver packs the runs that are ready at the same time (a lottery study's level after the level before). What
only a built run can tell (data held as tensors, a model vmap can batch, ...) the runner checks again, and a
run that fails it trains alone with a note.

`--pack` is execution, not config: it never changes a run's id or what the run computes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from trainlab.errors import TrainlabError
from trainlab.spec import RunSpec
from trainlab.spec.dotted import flatten
from trainlab.train.packed import settings_reason

OWN = {"train.seed", "train.clip_grad_norm", "train.early_stopping_patience"}  # each member keeps its own
OWN_OPTIMIZER = {"optim.name", "optim.lr", "optim.momentum", "optim.weight_decay", "optim.betas", "optim.eps"}
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
    if _config_reason(run):
        return None
    config = flatten(run.config.to_dict())
    by_index = getattr(run.config.data, "held_as_tensors", True)  # a user's data config may not say
    own = OWN | OWN_OPTIMIZER if by_index else (OWN - {"train.seed"}) | OWN_OPTIMIZER
    shared = {k: v for k, v in config.items() if k not in own and not k.startswith("schedule.")}
    return json.dumps(shared, sort_keys=True, default=str)


def why_alone(run: RunSpec) -> str:
    return _config_reason(run) or "no other run shares its model, data and training settings"


def _config_reason(run: RunSpec) -> str | None:
    """Why the run trains alone, as its config tells (the runner checks the built run again)."""
    name = run.config.optim.name
    if name not in PACKED_OPTIMIZERS:
        return f"optimizer {name} has no packed update rule ({', '.join(PACKED_OPTIMIZERS)} have)"
    return settings_reason(run.config.train)
