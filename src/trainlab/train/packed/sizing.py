"""How large a pack may be, and whether it is faster: the members that fit in the device's memory, and a
packed step timed against the same step of its members one at a time (`--pack auto`)."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence

import torch

from trainlab.data.base import Batch
from trainlab.hardware import freed_memory_kept
from trainlab.optim.packed import packed_rule, slots
from trainlab.train import measure, seeding
from trainlab.train.loop import Loop
from trainlab.train.packed.loop import PackedLoop
from trainlab.train.packed.members import kinds_of
from trainlab.train.packed.step import stacked

MEMORY_SHARE = 0.5  # of the device's free memory that one pack may take
ACTIVATIONS_PER_INPUT = 32  # on a CPU, bytes of activations counted per byte of a batch's inputs (an estimate)


def step_seconds(pack: PackedLoop, trials: int = 3) -> tuple[float, float]:
    """Seconds of a training step of the pack, and of the same step of its members one at a time: the batch
    gathered, forward, backward and the optimizer's update, on copies of the members' weights and optimizers
    under a private RNG, so nothing the runs will compute changes (a step alone timed once per kind of update,
    on the kind's first member, counted for each member of that kind). `--pack auto` packs only where the
    first is clearly the smaller: on a CPU a model whose step is all arithmetic gains little, one whose step is
    mostly per-operation overhead gains several times."""
    members, first = pack.members, pack.members[0]
    model = copy.deepcopy(first.model)
    buffers = stacked([model] * len(members), buffers=True)
    step = pack.step_function(model)
    params = pack.stacked_params([model] * len(members), buffers, step)
    rule = packed_rule([copy.deepcopy(m.optimizer) for m in members], slots(first.model, first.optimizer), params)
    kinds = kinds_of(members)
    # Tensors are gathered every step, in the timing as in the loop. Data drawn a batch at a time comes from
    # an epoch's iterator, whose index work (5.9 ms for Multi30k's pairs) the loop pays once an epoch: drawn
    # once here, or a step alone would pay it once per member and auto would favour packing.
    drawn = pack.fixed_batch(len(members)) if pack.shared else None

    def batch(count: int) -> Batch:
        return drawn or pack.fixed_batch(count)

    def packed() -> None:
        x, y = batch(len(members))
        step(params, buffers, x, y)
        with torch.no_grad():
            rule.step(params, {n: p.grad for n, p in params.items()})
        for p in params.values():
            p.grad = None

    def alone(member: Loop) -> Callable[[], None]:
        twin, twin_optimizer = copy.deepcopy((member.model, member.optimizer))  # one deepcopy: it steps the copy
        twin.train()

        def work() -> None:
            x, y = pack.member_batch(batch(1), 0)
            with member.autocast():  # as the packed step's forward (bf16 runs: both in bf16)
                loss = pack.task.loss(twin(x), y)
            loss.backward()
            twin_optimizer.step()
            twin_optimizer.zero_grad(set_to_none=True)

        return work

    with seeding.private_global_rng(first.device), freed_memory_kept(first.device):
        model.train()
        packed_s, *alone_s = _timed((packed, *(alone(group[0]) for group in kinds.values())), first.device, trials)
    return packed_s, sum(s * len(group) for s, group in zip(alone_s, kinds.values()))


def members_that_fit(loop: Loop) -> int:
    """How many runs like `loop` one pack can hold in MEMORY_SHARE of the device's free memory. A member needs
    its weights, gradient and two optimizer moments (4 x its parameter bytes) and its step's activations: on
    CUDA measured (the peak of a forward and backward of one batch, on a copy), on a CPU estimated as
    ACTIVATIONS_PER_INPUT bytes per byte of the batch's inputs."""
    weights = sum(p.numel() * p.element_size() for p in loop.model.parameters())
    x, y = next(iter(loop.data.train.batches(loop.train_cfg.batch_size)))
    if loop.device.type == "cuda":
        model = copy.deepcopy(loop.model)
        torch.cuda.reset_peak_memory_stats(loop.device)
        base = torch.cuda.memory_allocated(loop.device)
        with loop.autocast():
            loss = loop.task.loss(model(x), y)
        loss.backward()
        activations = torch.cuda.max_memory_allocated(loop.device) - base
        free = torch.cuda.mem_get_info(loop.device)[0]
    else:
        activations = sum(t.numel() for t in (x if isinstance(x, tuple) else (x,))) * 4 * ACTIVATIONS_PER_INPUT
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return max(1, int(MEMORY_SHARE * free // (4 * weights + activations)))


def _timed(works: Sequence[Callable[[], object]], device: torch.device, trials: int) -> list[float]:
    """The best of `trials` timings of each of `works`, taken in turn (so that a machine slowed for a while by
    other work slows both sides of a comparison alike), after one untimed call of each (allocations, lazy
    initialisation)."""
    for work in works:
        work()
    best = [float("inf")] * len(works)
    for _ in range(trials):
        for i, work in enumerate(works):
            with measure.Stopwatch(device) as clock:
                work()
            best[i] = min(best[i], clock.seconds)
    return best
