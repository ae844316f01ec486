"""Packed training: the rounds of several runs of one model shape taken together in one process, their
parameters stacked along a new first dimension and the model called once per step under `torch.func.vmap`
(functional_call over the stacked weights; the functorch model-ensembling recipe). N small matrix products
become one batched product, and per-step Python and kernel-launch costs are paid once for the pack.

Each member stays an ordinary run: its own `Loop` (model, optimizer, schedule, state, hooks) is built as it
would be alone, and only the steps inside a round are shared. Before a round the members' weights, buffers
and optimizer states are stacked; after it they go back into each member, whose `Loop.end_round` logs, validates,
steps its plateau schedule, stops early or records divergence, and saves its checkpoint exactly as alone.
What differs per member: data order (each run's own seeded permutation, gathered in one indexing; augmented
data is drawn from each run's own streams of order and augmentation, as alone, and stacked; data not
held as tensors - token windows, sentence pairs padded per batch - packs only runs of one seed, which draw the
same batches, and the pack draws each batch once, as its runs would alone), dropout
draws (vmap's randomness='different'), learning rates and optimizer hyperparameters, schedules, gradient
clipping norms, starting weights, BatchNorm's running statistics (stacked like the weights, so vmap updates
each member's own in place; unbatched, they could not be), and when it stops (a diverged or early-stopped
member leaves the pack).
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from trainlab.data.base import Batch, Split, TensorSplit
from trainlab.hardware import freed_memory_kept
from trainlab.optim.packed import laid_like, memory_order, packed_rule, rule_kind, slots, unpackable
from trainlab.spec.config import TrainConfig
from trainlab.train import measure, seeding
from trainlab.train.hooks import ClipGradNorm
from trainlab.train.loop import Loop
from trainlab.train.noise_scale import GradientNoiseScale, first_examples
from trainlab.train.tasks import TaskBase

MEMORY_SHARE = 0.5  # of the device's free memory that one pack may take
T = TypeVar("T")
ACTIVATIONS_PER_INPUT = 32  # on a CPU, bytes of activations counted per byte of a batch's inputs (an estimate)


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


class PackedLoop:
    """Trains `members` (loops for which `why_alone` is None and `pack_key` agrees) together to the end."""

    def __init__(self, members: Sequence[Loop]) -> None:
        self.members = by_kind(members)  # each kind of update one block of the stacked tensors
        first = self.members[0]
        self.template, self.task, self.split = first.model, first.task, first.data.train
        self.shared = not isinstance(self.split, TensorSplit)  # one batch for all members (pack_key: one seed)
        self.augmented = not self.shared and self.split.augment is not None
        self.per_epoch = self.split.num_batches(first.train_cfg.batch_size)
        self.total = first.train_cfg.total_steps(self.per_epoch)
        self.orders: dict[str, tuple[int, ...]] | None = None  # of the parameters' gradients (gradient_orders)

    def run(self) -> None:
        """Round after round, the members still training that are at the same step go together (members
        resumed from different epochs catch up in smaller packs first)."""
        while active := [m for m in self.members if m.state.step < self.total and m.state.stop_reason is None]:
            step = min(m.state.step for m in active)
            together = [m for m in active if m.state.step == step]
            first = together[0]
            with freed_memory_kept(first.device):
                self._round(together, first.state.epoch + 1, first._round_end(self.per_epoch, self.total))

    def _round(self, members: list[Loop], epoch: int, end: int) -> None:
        device = members[0].device
        models = [m.model for m in members]
        buffers = stacked(models, buffers=True)
        step_fn = self.step_function(self.template)
        params = self.stacked_params(models, buffers, step_fn)
        rule = packed_rule([m.optimizer for m in members], slots(members[0].model, members[0].optimizer), params)
        clip = _clip_norms(members, device)
        masks = _stacked_masks(members, params)
        step_hooks = [[h for h in m.hooks if not h.masks()] for m in members]  # masks are applied here instead
        noise = [h for m in members for h in m.hooks if isinstance(h, GradientNoiseScale)]  # every member's or none
        model_steps = [frozenset().union(*(h.model_steps for h in hooks)) for hooks in step_hooks]
        sums = torch.zeros(len(members), self.task.n_sums, device=device)
        self.template.train()
        measure.reset_peak_memory(device)
        step = members[0].state.step
        with measure.GPUSampler(device) as gpu, measure.Stopwatch(device) as clock:
            for x, y in self._batches(members, step, end):
                losses, batch_sums = step_fn(params, buffers, x, y)
                if noise and noise[0].due(step, len(self.member_batch((x, y), 0)[1])):
                    self._measure_noise(noise, step_fn, params, buffers, (x, y))
                grads = {n: p.grad for n, p in params.items()}
                with torch.no_grad():
                    if clip is not None:
                        _clip(grads, clip)
                    rule.step(params, grads)
                    for name, mask in masks.items():
                        params[name].mul_(mask)
                    sums += batch_sums
                for p in params.values():
                    p.grad = None
                step += 1
                for i, member in enumerate(members):
                    member.state.step = step
                    if step in model_steps[i]:
                        _write_back(member, i, params, buffers)
                    for hook in step_hooks[i]:
                        hook.on_step(member, losses[i])
        rule.write_back()
        for i, member in enumerate(members):
            _write_back(member, i, params, buffers)
        shared = evaluate_together(members, members[0].data.valid)
        for i, member in enumerate(members):
            member.end_round(epoch, sums[i], clock.seconds, gpu.metrics(), shared[i] if shared else None)

    def _measure_noise(
        self,
        hooks: list[GradientNoiseScale],
        step_fn: Callable,
        params: dict[str, torch.Tensor],
        buffers: dict[str, torch.Tensor],
        batch: Batch,
    ) -> None:
        """Each member's gradient noise scale measurement, as its hook takes it alone (before clipping: the
        gradient of the batch's first half at the same weights, under a private RNG, running statistics moved
        as alone; the whole batch's gradient put back), in one packed half-batch step."""
        x, y = batch
        half = len(self.member_batch(batch, 0)[1]) // 2
        small = (first_examples(x, half), first_examples(y, half)) if self.shared else (x[:, :half], y[:, :half])
        big = {n: p.grad for n, p in params.items()}
        for p in params.values():
            p.grad = None
        with seeding.private_global_rng(self.members[0].device):
            step_fn(params, buffers, *small)
        small_sq = _squared_norms({n: p.grad for n, p in params.items() if p.grad is not None})
        big_sq = _squared_norms(big)
        for n, p in params.items():
            p.grad = big[n]
        for i, hook in enumerate(hooks):
            units = [self.task.units(self.member_batch(b, i)[1]) for b in (small, batch)]
            hook.estimate.update(float(small_sq[i]), float(big_sq[i]), *units)

    def step_function(self, template: nn.Module) -> Callable:
        """packed_step for this pack's members."""
        first = self.members[0]
        return packed_step(template, self.task.loss, self.task.sums, shared_batch=self.shared, autocast=first.autocast)

    def stacked_params(
        self, models: Sequence[nn.Module], buffers: dict[str, torch.Tensor], step_fn: Callable
    ) -> dict[str, torch.Tensor]:
        """The models' parameters stacked, each in the memory layout its gradient comes back in (found the first
        time with one step on the first batch, its gradients and running statistics dropped, under a private
        RNG)."""
        params = {n: t.requires_grad_() for n, t in stacked(models).items()}
        if self.orders is None:
            x, y = self.fixed_batch(len(models))
            probed = {n: b.clone() for n, b in buffers.items()}  # the probe's step moves running statistics
            with seeding.private_global_rng(self.members[0].device):
                self.orders = gradient_orders(step_fn, params, probed, x, y)
        return {n: laid_out(t.detach(), self.orders.get(n)).requires_grad_() for n, t in params.items()}

    def fixed_batch(self, members: int) -> Batch:
        """A batch for `members` members in the pack's layout, drawn from no run's random stream: to probe
        gradient layouts and to time a step. The split's first rows, or for data drawn a batch at a time the
        first batch of a fixed shuffle (in order, sentence pairs come shortest first: the POSTECH Transformer's
        timed step was then on 7 tokens instead of 15, and half as long)."""
        size = self.members[0].train_cfg.batch_size
        if self.shared:
            return next(iter(self.split.batches(size, generator=torch.Generator().manual_seed(0))))
        batch = min(size, len(self.split))
        return self._batch(torch.arange(batch, device=self.members[0].device).expand(members, batch), 0, batch)

    def member_batch(self, batch: Batch, i: int) -> Batch:
        """Member `i`'s part of a batch in the pack's layout, as its run alone takes it."""
        return batch if self.shared else (batch[0][i], batch[1][i])

    def _batches(self, members: list[Loop], step: int, end: int) -> Iterator[Batch]:
        """The pack's batches of steps `step` to `end`: each member's own, gathered [members, batch, ...] (for
        augmented data each member's own stream of augmented batches, stacked), or for data not held as tensors
        the one batch its members (of one seed) each draw alone."""
        while step < end:
            data_epoch, done = divmod(step, self.per_epoch)
            count = min(end - step, self.per_epoch - done)  # the round's steps in this data epoch
            if self.shared:
                yield from itertools.islice(members[0].batches_from(step, self.per_epoch), count)
            elif self.augmented:  # each member's batches with its own augmentation draws, as alone, stacked
                streams = zip(*(m.batches_from(step, self.per_epoch) for m in members))
                for batch in itertools.islice(streams, count):
                    yield tuple(torch.stack(parts) for parts in zip(*batch))
            else:
                orders = _orders(members, data_epoch + 1, len(self.split), members[0].device)
                for i in range(done, done + count):
                    yield self._batch(orders, i, members[0].train_cfg.batch_size)
            step += count

    def _batch(self, orders: torch.Tensor, done: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's batch `done` of its own order: [members, batch, ...], gathered in one index_select
        (on a CPU about ten times faster than indexing with the 2-D index itself)."""
        index = orders[:, done * batch_size : (done + 1) * batch_size]
        flat = index.reshape(-1)
        x = self.split.x.index_select(0, flat).unflatten(0, index.shape)
        y = self.split.y.index_select(0, flat).unflatten(0, index.shape)
        if self.split.transform is not None:
            x = self.split.transform(x.flatten(0, 1)).unflatten(0, index.shape)
        return x, y


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


def evaluate_together(members: Sequence[Loop], split: Split) -> list[tuple[dict[str, float], float]] | None:
    """Each member's metrics on `split` and the seconds they took, as `Loop._timed_evaluate` gives them alone,
    from one vmapped pass over the split's batches (in order; the exact split sums per member; the pack's
    seconds are each member's). None where the members cannot share it: a sample of `train.eval_batches`
    batches (drawn from each run's seed), or a task whose evaluation needs the model itself (decoding)."""
    first = members[0]
    task, template = first.task, first.model
    if first.train_cfg.eval_batches or type(task).eval_sums is not TaskBase.eval_sums:
        return None

    call = member_call(template)

    def member_sums(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = call(p, b, x)
        return task.sums(out, y, task.loss(out, y))

    batched = vmap(member_sums, in_dims=(0, 0, None, None))
    models = [m.model for m in members]
    weights, buffers = stacked(models), stacked(models, buffers=True)
    sums = torch.zeros(len(members), task.n_eval_sums, device=first.device)
    was_training = template.training
    template.eval()
    size = first.train_cfg.eval_batch_size or first.train_cfg.batch_size
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), measure.Stopwatch(first.device) as clock:
        for x, y in split.batches(size):
            with first.autocast():
                sums += batched(weights, buffers, x, y)
    template.train(was_training)
    return [({**task.summarize_eval(s), task.throughput: task.count(s) / clock.seconds}, clock.seconds) for s in sums]


def member_call(template: nn.Module) -> Callable[[dict, dict, object], object]:
    """call(params, buffers, x): `template` run on `x` with one member's parameters and buffers (by
    `named_parameters` name) in place of its own. A parameter that a second module also holds (an output layer
    tied to the embedding) is passed under that module's name too, with torch's weight tying off: with it on,
    a model that also registers one submodule under two names (the translation model's shared source and
    target embedding) was left holding the vmapped tensor after the call, and could not run alone again."""
    canonical = {id(p): n for n, p in template.named_parameters()}
    tied = {
        f"{prefix}.{attr}" if prefix else attr: canonical[id(p)]
        for prefix, module in template.named_modules()
        for attr, p in module.named_parameters(recurse=False)
    }
    tied = {name: first for name, first in tied.items() if name != first}

    def call(params: dict, buffers: dict, x: object) -> object:
        every = {**params, **{name: params[first] for name, first in tied.items()}}
        return functional_call(template, (every, buffers), (x,), tie_weights=False)

    return call


def stacked(models: Sequence[nn.Module], buffers: bool = False) -> dict[str, torch.Tensor]:
    """The models' parameters (or buffers) by name, each stacked along a new first dimension (detached copies)."""
    named = [dict(m.named_buffers() if buffers else m.named_parameters()) for m in models]
    return {n: torch.stack([d[n].detach() for d in named]) for n in named[0]}


def gradient_orders(
    step_fn: Callable,
    params: dict[str, torch.Tensor],
    buffers: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> dict[str, tuple[int, ...]]:
    """Per stacked parameter, the order of its dimensions in memory (outermost first) in the gradient that one
    `step_fn` delivers for it. A vmapped linear layer's weight gradient comes back as the transpose of a
    contiguous [members, in, out] product; into a parameter stored [members, out, in], autograd copies it
    across every step (on a CPU 3 ms of a 12 ms step of 15 MLPs 784-128-10), and the update rule then runs
    over memory in two layouts. The gradients are dropped."""
    orders: dict[str, tuple[int, ...]] = {}

    def record(name: str) -> Callable[[torch.Tensor], None]:
        return lambda grad: orders.__setitem__(name, memory_order(grad))

    handles = [p.register_hook(record(n)) for n, p in params.items()]
    try:
        step_fn(params, buffers, x, y)
    finally:
        for handle in handles:
            handle.remove()
        for p in params.values():
            p.grad = None
    return orders


def laid_out(t: torch.Tensor, order: tuple[int, ...] | None) -> torch.Tensor:
    """A copy of `t` with its dimensions in memory in `order` (outermost first); `t` itself when that is its
    order already, none is known, or the order would move the member dimension inwards (each member's
    entries stay one block of memory, as the packed Adam kernel takes them: trainlab.optim.packed.member_rows)."""
    if order is None or order == tuple(range(t.dim())) or order[0] != 0:
        return t
    inverse = [order.index(d) for d in range(t.dim())]
    return torch.empty([t.shape[d] for d in order], dtype=t.dtype, device=t.device).permute(inverse).copy_(t)


def packed_step(
    template: nn.Module,
    loss_fn: Callable,
    sums_fn: Callable,
    shared_batch: bool = False,
    autocast: Callable[[], AbstractContextManager] = nullcontext,
) -> Callable:
    """step(params, buffers, x, y) -> (losses, sums): each member's mean batch loss `loss_fn(out, y)` (its
    gradient left in `.grad` of the stacked parameters) and `sums_fn(out, y, loss)`, one row per member. The
    batch has a leading member dimension, or with `shared_batch` is one batch for every member. `autocast` is
    the run's mixed precision for the forward pass (`Loop.autocast`): under vmap it reaches the batched matrix
    products (forward and backward take bf16 as alone), but a layer adding an fp32 bias returns fp32 where
    alone it returns bf16, so a bf16 member matches its run alone to bf16 rounding, not bit for bit.

    The forward pass is vmapped over `functional_call`; the backward pass is plain autograd over the stacked
    leaves (the members are independent, so the gradient of the sum of their losses is each member's own),
    which costs far less per operation than functorch's grad transform."""

    call = member_call(template)

    def member_forward(params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> tuple:
        out = call(params, buffers, x)
        loss = loss_fn(out, y)
        return loss, sums_fn(out.detach(), y, loss.detach())

    batched = vmap(member_forward, in_dims=(0, 0, None, None) if shared_batch else 0, randomness="different")

    def step(params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> tuple:
        # vmap has no batching rule for the fused CPU attention kernels (it would loop over members):
        # the math backend is matmuls and a softmax, which it batches.
        with sdpa_kernel(SDPBackend.MATH), autocast():
            losses, sums = batched(params, buffers, x, y)
        losses.sum().backward()
        return losses.detach(), sums

    return step


def _orders(members: list[Loop], data_epoch: int, n: int, device: torch.device) -> torch.Tensor:
    """[members, n]: each member's shuffle of data epoch `data_epoch`, drawn from the stream its run alone
    draws it from (Loop._next_batch), so a member sees exactly its own batches."""
    return torch.stack(
        [torch.randperm(n, generator=seeding.generator(m.train_cfg.seed, f"order/{data_epoch}")) for m in members]
    ).to(device)


def _stacked_masks(members: list[Loop], params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per parameter that some member prunes: the members' masks stacked (ones for a member that keeps all)."""
    held = [{n: m for h in member.hooks for n, m in h.masks().items()} for member in members]
    names = [n for n in params if any(n in h for h in held)]
    return {
        n: laid_like(
            torch.stack([h.get(n, torch.ones_like(params[n][0])) for h in held]).to(params[n].dtype), params[n]
        )
        for n in names
    }


def _clip_norms(members: list[Loop], device: torch.device) -> torch.Tensor | None:
    """Each member's gradient clipping norm (inf where it has none); None when no member clips."""
    norms = [next((h.max_norm for h in m.hooks if isinstance(h, ClipGradNorm)), float("inf")) for m in members]
    return None if all(n == float("inf") for n in norms) else torch.tensor(norms, device=device)


def _clip(grads: dict[str, torch.Tensor], max_norms: torch.Tensor) -> None:
    """clip_grad_norm_ per member: each member's gradients scaled by min(1, max_norm / (its global norm + 1e-6))
    (Pascanu et al. 2013, as torch.nn.utils.clip_grad_norm_ computes it)."""
    squares = sum(_per_member_sum(g.square()) for g in grads.values())
    scale = (max_norms / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    for g in grads.values():
        g.mul_(scale.reshape(-1, *([1] * (g.dim() - 1))))


def _write_back(member: Loop, i: int, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor]) -> None:
    """Member i's weights and buffers (BatchNorm's running statistics) from the pack into its own model."""
    with torch.no_grad():
        for n, p in member.model.named_parameters():
            p.copy_(params[n][i])
        for n, b in member.model.named_buffers():
            b.copy_(buffers[n][i])


def _squared_norms(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """[members]: each member's squared L2 norm over all its gradients, summed in float64 as the noise scale
    hook sums a run's alone."""
    return sum(_per_member_sum(g.double().square()) for g in grads.values())


def _per_member_sum(t: torch.Tensor) -> torch.Tensor:
    """[members]: the sum of each member's entries, in whatever layout `t` is (no copy to flatten it); a
    parameter that is one number per member is its own sum (sum over no dimensions would sum them all)."""
    return t.sum(dim=tuple(range(1, t.dim()))) if t.dim() > 1 else t


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
