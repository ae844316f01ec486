"""A pack's step and evaluation: the model called once for every member under `torch.func.vmap`, over its
parameters stacked along a new first dimension, each in the memory layout its gradient comes back in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from trainlab.data.base import Split
from trainlab.optim.packed import memory_order
from trainlab.train import measure
from trainlab.train.loop import Loop
from trainlab.train.tasks import TaskBase


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
