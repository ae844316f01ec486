"""Which runs may train together in a pack: why a built run trains alone, what its pack's members must agree
on, the packs of a group of runs, and the order of a pack's members (each kind of update one block)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from trainlab.data.base import TensorSplit
from trainlab.optim.packed import rule_kind, slots, unpackable
from trainlab.spec.config import TrainConfig
from trainlab.train.loop import Loop

T = TypeVar("T")


def settings_reason(train: TrainConfig) -> str | None:
    """Why runs with these training settings train alone, known before anything is built (None: they may)."""
    if train.compile:
        return "train.compile is on"
    return None


# what torch's vmap says when a model does what it cannot batch, and the same in words about the model
VMAP_REFUSALS = {
    "data-dependent control flow": "its model branches on a tensor's value (if, bool() or while on a tensor)",
    "calling .item()": "its model calls .item() on a tensor",
    "dynamic shape": "its model makes a tensor whose shape depends on values (a boolean mask, nonzero)",
    "inplace arithmetic": "its model writes in place into a tensor that is not batched",
}


def failure(err: Exception) -> str:
    """Why packed steps failed, in one line: what the model does that vmap cannot batch where torch says so
    (its message asks users to file an issue with torch), else the error's first line."""
    text = str(err)
    for marker, what in VMAP_REFUSALS.items():
        if marker in text:
            return f"{what}, which vmap cannot batch"
    return f"{type(err).__name__}: {text}".splitlines()[0]


def why_alone(loop: Loop) -> str | None:
    """Why a run built as `loop` cannot be a member of a pack (None when it can)."""
    if not loop.trainable:
        return "its model has nothing to train"
    if reason := getattr(loop.model, "unpackable", None):  # a model that knows it cannot be vmapped says why
        return str(reason)
    if reason := settings_reason(loop.train_cfg):
        return reason
    if problem := unpackable(loop.optimizer):
        return problem
    hooks = [type(h).__name__ for h in loop.hooks if not h.packs]
    return f"its hooks {', '.join(hooks)} read the model at every step" if hooks else None


def pack_key(loop: Loop) -> tuple:
    """Runs pack together when these agree: model shapes, data, task, batch size, length, precision, device
    and the layout of their optimizers' param groups (not the optimizers: each kind updates its own members,
    trainlab.optim.packed.BlockRules); and the seed, for data not held as tensors (its batches are drawn once
    for the pack)."""
    shapes = tuple((n, tuple(p.shape), p.dtype) for n, p in loop.model.named_parameters())
    buffers = tuple((n, tuple(b.shape), b.dtype) for n, b in loop.model.named_buffers())
    cfg = loop.train_cfg
    return (
        type(loop.model),
        shapes,
        buffers,
        id(loop.data.train),
        type(loop.task),
        cfg.batch_size,
        cfg.total_steps(loop.data.train.num_batches(cfg.batch_size)),
        cfg.eval_every_steps,
        cfg.precision,  # the pack's forward runs under its first member's autocast
        (cfg.gradient_noise_scale, cfg.noise_scale_every),  # measured for the whole pack at once
        None if isinstance(loop.data.train, TensorSplit) else cfg.seed,
        str(loop.device),
        tuple(s.group for s in slots(loop.model, loop.optimizer)),
    )


def kinds_of(members: Sequence[Loop]) -> dict[Hashable, list[Loop]]:
    """The members by kind of update rule (`rule_kind`), kinds in the order they first come, members of a kind
    in their order."""
    kinds: dict[Hashable, list[Loop]] = {}
    for member in members:
        kinds.setdefault(rule_kind(member.optimizer), []).append(member)
    return kinds


def by_kind(members: Sequence[Loop]) -> list[Loop]:
    """The members with those of one kind of update rule next to each other (`kinds_of`)."""
    return [member for kind in kinds_of(members).values() for member in kind]


def packs(loops: Sequence[Loop], size: int) -> tuple[list[list[Loop]], list[tuple[Loop, str]]]:
    """The loops grouped into packs of at most `size` (by `pack_key`, in their order), and those that train
    alone with the reason."""
    reasons = [why_alone(loop) for loop in loops]
    packable = [loop for loop, why in zip(loops, reasons) if why is None]
    return grouped(packable, pack_key, size), [(loop, why) for loop, why in zip(loops, reasons) if why]


def grouped(items: Sequence[T], key_of: Callable[[T], Hashable | None], size: int, parts: int = 1) -> list[list[T]]:
    """The items in groups of at most `size` that share a key (`key_of`: None for an item that goes alone), in
    the order of each group's first item; a key's items beyond `size` split evenly (5 with size 4: 3 and 2,
    not 4 and 1 alone), and into at least `parts` groups where there are that many (a pool of `parts`
    workers gets a pack each, not one pack for one worker). The one rule for the driver's packs of units and
    the runner's packs of loops."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        key = key_of(item) if size > 1 else None
        groups.setdefault(key if key is not None else ("alone", id(item)), []).append(item)
    return [chunk for group in groups.values() for chunk in _even(group, min(size, -(-len(group) // parts)))]


def _even(group: list[T], size: int) -> list[list[T]]:
    count = -(-len(group) // size)
    bounds = [len(group) * i // count for i in range(count + 1)]
    return [group[a:b] for a, b in zip(bounds, bounds[1:])]
