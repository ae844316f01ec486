"""`PackedLoop`: a pack's rounds. Before a round the members' weights, buffers and optimizer states are stacked;
the round's steps are taken together; after it each member gets its own back and ends the round as alone."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from trainlab.data.base import Batch, TensorSplit
from trainlab.hardware import freed_memory_kept
from trainlab.optim.packed import laid_like, packed_rule, slots
from trainlab.train import measure, seeding
from trainlab.train.hooks import ClipGradNorm
from trainlab.train.loop import Loop
from trainlab.train.noise_scale import GradientNoiseScale, first_examples
from trainlab.train.packed.members import by_kind
from trainlab.train.packed.step import evaluate_together, gradient_orders, laid_out, packed_step, stacked


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
