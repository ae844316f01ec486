"""torch.optim's update rules over a pack's stacked parameters (dimension 0: the member), each member with its
own hyperparameters: SGD (plain, heavy-ball momentum, Nesterov) written once over the members, and Adam / AdamW
by torch's own fused kernel on the members' rows. Members of different kinds share a pack (one forward and
backward for all of them): each consecutive block of one kind is updated by its own rule on its rows.

The members' own torch optimizers stay the record. Their param groups carry each member's learning rate
(which its schedule sets) and hyperparameters; their `state` is read before a round and written back, in
torch's own format, after it, so a member's checkpoint is exactly what its run alone would save and a run
moves between packed and alone at any epoch. The packed state is kept in the memory layout of the stacked
parameters it updates (the packed loop lays those out as their gradients arrive), and written back contiguous.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass

import torch
from torch import nn

# AdamW is named beside Adam: before torch 2.6 it was not a subclass of Adam
ADAM_KINDS = (torch.optim.Adam, torch.optim.AdamW)


@dataclass(frozen=True)
class Slot:
    """One parameter of the model: its name and the index of its param group (the same in every member)."""

    name: str
    group: int


def slots(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[Slot]:
    """The optimizer's parameters in its own order, named as the model names them."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [Slot(names[id(p)], g) for g, group in enumerate(optimizer.param_groups) for p in group["params"]]


def unpackable(optimizer: torch.optim.Optimizer) -> str | None:
    """Why the optimizer's updates cannot be vectorised over members, or None."""
    if type(optimizer) not in (torch.optim.SGD, *ADAM_KINDS):
        return f"its optimizer {type(optimizer).__name__} has no packed update rule (SGD, Adam and AdamW have)"
    for group in optimizer.param_groups:
        if group.get("maximize") or group.get("amsgrad") or group.get("dampening", 0) or group.get("differentiable"):
            return "its optimizer uses maximize, amsgrad, dampening or differentiable, which packing does not"
    return None


def hyperparameter(optimizers: list[torch.optim.Optimizer], key: str) -> list[list[float]]:
    """[member][group] of one hyperparameter (lr, weight_decay, ...) as the members' groups hold it now."""
    return [[float(g[key]) for g in o.param_groups] for o in optimizers]


def per_member(table: list[list[float]], slot: Slot, like: torch.Tensor) -> float | torch.Tensor:
    """The slot's value of a hyperparameter: one float when every member has the same (an operation with a
    scalar is several times faster than one broadcast over the members: 2.7 ms against 7.6 ms for an
    elementwise Adam step of 15 MLPs on a CPU), else each member's value shaped to broadcast over the stacked
    parameter."""
    values = [row[slot.group] for row in table]
    if all(v == values[0] for v in values):
        return values[0]
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(-1, *([1] * (like.dim() - 1)))


def laid_like(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`t` in the memory layout of `like`: elementwise operations on tensors of different layouts go through a
    strided loop several times slower than a contiguous one."""
    return t if t.stride() == like.stride() else torch.empty_like(like).copy_(t)


def own_copy(t: torch.Tensor) -> torch.Tensor:
    """A member's slice of packed state as its optimizer alone keeps it: contiguous, in storage of its own."""
    return t.clone(memory_format=torch.contiguous_format)


def is_zero(value: float | torch.Tensor) -> bool:
    """A term every member skips (a shared 0); a per-member value always has a member that needs it."""
    return isinstance(value, float) and value == 0


def add_scaled_(x: torch.Tensor, y: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """x += scale·y in place."""
    return x.add_(y, alpha=scale) if isinstance(scale, float) else x.addcmul_(scale, y)


class PackedRule:
    """The shared part: the members' optimizers, the parameter slots, and where state goes back. The
    hyperparameters besides the learning rate are fixed for a run, so each rule resolves them once."""

    def __init__(self, optimizers: list[torch.optim.Optimizer], model_slots: list[Slot]):
        self.optimizers, self.slots = optimizers, model_slots
        for optimizer in optimizers:  # the pack steps for them: their schedules must not warn that they never did
            optimizer._opt_called = True  # type: ignore[attr-defined]  # torch's LRScheduler reads this flag

    def member_params(self, i: int) -> list[torch.Tensor]:
        """Member i's parameter tensors in slot order (the keys of its optimizer's state)."""
        return [p for group in self.optimizers[i].param_groups for p in group["params"]]

    def step(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> None:
        """One update of the stacked `params`. The `grads` are the rule's to overwrite (the packed loop drops
        them after the step): terms are added to them in place, as a new tensor the size of the pack's weights
        would cost the page faults of fresh memory every step."""
        raise NotImplementedError

    def write_back(self) -> None:
        """The packed state into each member's optimizer, as torch keeps it (copies: no view of the pack)."""
        raise NotImplementedError


class SGDRule(PackedRule):
    """torch.optim.SGD without dampening: d = g + wd·p; with momentum μ, buf = μ·buf + d (buf = d on the first
    step), d = d + μ·buf for Nesterov else buf; p -= lr·d. A member without momentum has μ = 0: buf = d."""

    def __init__(
        self, optimizers: list[torch.optim.Optimizer], model_slots: list[Slot], params: dict[str, torch.Tensor]
    ):
        super().__init__(optimizers, model_slots)
        self.momentum = hyperparameter(optimizers, "momentum")
        tables = (hyperparameter(optimizers, "weight_decay"), self.momentum, hyperparameter(optimizers, "nesterov"))
        self.hyper = [tuple(per_member(t, slot, params[slot.name]) for t in tables) for slot in model_slots]
        self.buffers = [self._gather(k, params[slot.name]) for k, slot in enumerate(model_slots)]

    def _gather(self, k: int, like: torch.Tensor) -> torch.Tensor | None:
        """The slot's stacked momentum buffers; None before the first step (torch then starts from d). A
        member without momentum keeps none: zeros stand in, and its μ = 0 makes them irrelevant."""
        found = [
            o.state.get(self.member_params(i)[k], {}).get("momentum_buffer") for i, o in enumerate(self.optimizers)
        ]
        if all(b is None for b in found):
            return None
        kept = next(b for b in found if b is not None)
        return laid_like(torch.stack([torch.zeros_like(kept) if b is None else b for b in found]), like)

    def step(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> None:
        # Terms every member of the pack skips are skipped (torch skips them per optimizer): each is a pass
        # over memory as large as the pack's weights.
        lrs = hyperparameter(self.optimizers, "lr")
        for k, slot in enumerate(self.slots):
            p, d = params[slot.name], grads[slot.name]
            decay, mu, nu = self.hyper[k]
            if not is_zero(decay):
                d = add_scaled_(d, p, decay)
            if not is_zero(mu):
                if self.buffers[k] is None:
                    self.buffers[k] = d.clone()
                else:
                    self.buffers[k].mul_(mu).add_(d)
                buf = self.buffers[k]
                if isinstance(nu, float):  # all Nesterov (d + μ·buf) or none (buf)
                    d = add_scaled_(d, buf, mu) if nu else buf
                else:  # d + μ·buf for a Nesterov member, buf for the others: ν·d + (ν·μ + 1 - ν)·buf
                    d = torch.addcmul(buf * (nu * mu + 1 - nu), nu, d)
            add_scaled_(p, d, -per_member(lrs, slot, p))

    def write_back(self) -> None:
        for i, optimizer in enumerate(self.optimizers):
            for k, p in enumerate(self.member_params(i)):
                if self.buffers[k] is not None and self.momentum[i][self.slots[k].group] != 0:
                    optimizer.state[p]["momentum_buffer"] = own_copy(self.buffers[k][i])


class AdamRule(PackedRule):
    """torch.optim.Adam / AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), amsgrad off, computed by torch's
    own fused kernel (`torch._fused_adam_`, `torch._fused_adamw_`: the one the runs use alone, see
    trainlab.optim.optimizers) on the members' rows of the stacked tensors. One call per set of rows that share
    every hyperparameter: the whole stacked tensor where all members agree (the seeds of one setting), else
    each member's row. One fused pass over memory instead of eight elementwise ones: on a CPU 0.75 ms against
    2.4 ms for 6 LeNet-300-100, 0.95 ms against 1.7 ms for 15 MLPs 784-128-10 at 5 learning rates."""

    def __init__(
        self, optimizers: list[torch.optim.Optimizer], model_slots: list[Slot], params: dict[str, torch.Tensor]
    ):
        super().__init__(optimizers, model_slots)
        self.settings = [  # [member][group]: what besides the learning rate picks a kernel call
            [(*g["betas"], g["eps"], g["weight_decay"], isinstance(o, torch.optim.AdamW)) for g in o.param_groups]
            for o in optimizers
        ]
        states = [[o.state.get(p, {}) for p in self.member_params(i)] for i, o in enumerate(optimizers)]
        steps = float(states[0][0]["step"]) if states[0][0] else 0.0  # every member of a pack is at one step
        first = next(iter(params.values()))
        # the kernel reads the step from a float32 tensor on the weights' device, as torch keeps it when fused
        self.step_tensor = torch.tensor(steps, dtype=torch.float32, device=first.device)
        self.moments = [
            (
                self._stacked(states, k, "exp_avg", params[slot.name]),
                self._stacked(states, k, "exp_avg_sq", params[slot.name]),
            )
            for k, slot in enumerate(model_slots)
        ]
        self.plan: list[list[tuple[tuple, list[int] | None]]] = []
        self.lrs: list[list[float]] | None = None

    def _stacked(self, states: list[list[dict]], k: int, key: str, like: torch.Tensor) -> torch.Tensor:
        if not states[0][k]:
            return torch.zeros_like(like)
        return laid_like(torch.stack([s[k][key] for s in states]), like)

    def _plan(self, lrs: list[list[float]]) -> list[list[tuple[tuple, list[int] | None]]]:
        """Per slot, its members grouped by their hyperparameters: (the hyperparameters, the members, None where
        all of them share one setting)."""
        plan = []
        for slot in self.slots:
            by_setting: dict[tuple, list[int]] = {}
            for i, (lr, settings) in enumerate(zip(lrs, self.settings)):
                by_setting.setdefault((lr[slot.group], *settings[slot.group]), []).append(i)
            plan.append(
                [(setting, None if len(by_setting) == 1 else members) for setting, members in by_setting.items()]
            )
        return plan

    def step(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> None:
        self.step_tensor.add_(1)
        lrs = hyperparameter(self.optimizers, "lr")
        if lrs != self.lrs:  # the plan changes only when a schedule moves a learning rate
            self.lrs, self.plan = lrs, self._plan(lrs)
        calls: dict[tuple, list[list[torch.Tensor]]] = {}  # hyperparameters -> params, grads, exp_avgs, exp_avg_sqs
        for slot, moments, groups in zip(self.slots, self.moments, self.plan):
            # the loop's gradients arrive in their parameter's layout (autograd's layout contract): no copy then
            grad = laid_like(grads[slot.name], params[slot.name])
            tensors = [member_rows(t) for t in (params[slot.name], grad, *moments)]
            for setting, members in groups:
                for kept, rows in zip(calls.setdefault(setting, [[], [], [], []]), tensors):
                    kept += [rows.view(-1)] if members is None else [rows[i] for i in members]
        for (lr, beta1, beta2, eps, weight_decay, decoupled), (p, g, m, v) in calls.items():
            kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
            kernel(
                p, g, m, v, [], [self.step_tensor] * len(p),
                lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=False,
            )  # fmt: skip

    def write_back(self) -> None:
        for i, optimizer in enumerate(self.optimizers):
            fused = bool(optimizer.param_groups[0].get("fused"))
            for (m, v), p in zip(self.moments, self.member_params(i)):
                # torch keeps the step as a float32 tensor: on the parameter's device when fused, else on the CPU
                step = self.step_tensor.to(p.device if fused else "cpu", copy=True)
                optimizer.state[p] = {"step": step, "exp_avg": own_copy(m[i]), "exp_avg_sq": own_copy(v[i])}


def memory_order(t: torch.Tensor) -> tuple[int, ...]:
    """The order of `t`'s dimensions in memory, outermost first."""
    return tuple(sorted(range(t.dim()), key=lambda d: -t.stride(d)))


def member_rows(t: torch.Tensor) -> torch.Tensor:
    """[members, n]: a view of a stacked tensor with each member's entries in one row, in memory order (the
    member dimension is outermost in every layout the packed loop gives a stacked tensor; it is put first
    even where its stride ties with another's, as in a pack of one)."""
    return t.permute(0, *(d for d in memory_order(t) if d)).view(t.shape[0], -1)


def rule_for(optimizer: torch.optim.Optimizer) -> type[PackedRule]:
    """The update rule that reproduces the optimizer (one for SGD's variants, one for Adam and AdamW)."""
    return AdamRule if isinstance(optimizer, ADAM_KINDS) else SGDRule


def rule_kind(optimizer: torch.optim.Optimizer) -> Hashable:
    """What a member needs of its update rule: the rule, and for SGD whether it keeps a momentum buffer and
    takes Nesterov's step. Members of one kind share a rule's every term; plain SGD members in a block of their
    own pay for no momentum buffer, and a block of Nesterov members takes its step without a per-member
    switch."""
    rule = rule_for(optimizer)
    if rule is AdamRule:
        return rule
    return rule, tuple((g["momentum"] != 0, bool(g["nesterov"])) for g in optimizer.param_groups)


class BlockRules(PackedRule):
    """Members of several kinds: each consecutive block of members of one kind (`rule_kind`) updated by its own
    rule on its rows of the stacked tensors, which are views (the packed loop orders a pack's members by kind,
    so each kind is one block)."""

    def __init__(
        self, optimizers: list[torch.optim.Optimizer], model_slots: list[Slot], params: dict[str, torch.Tensor]
    ):
        super().__init__(optimizers, model_slots)
        self.blocks: list[tuple[slice, PackedRule]] = []
        start = 0
        for _, block in itertools.groupby(optimizers, key=rule_kind):
            members = list(block)
            rows = slice(start, start + len(members))
            self.blocks.append((rows, rule_for(members[0])(members, model_slots, _rows(params, rows))))
            start = rows.stop

    def step(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> None:
        for rows, rule in self.blocks:
            rule.step(_rows(params, rows), _rows(grads, rows))

    def write_back(self) -> None:
        for _, rule in self.blocks:
            rule.write_back()


def _rows(tensors: dict[str, torch.Tensor], rows: slice) -> dict[str, torch.Tensor]:
    """The members `rows` of each stacked tensor: views, in the stacked tensors' layout (the member dimension
    is outermost in memory, so a block of members is one block of memory)."""
    return {n: t[rows] for n, t in tensors.items()}


def packed_rule(
    optimizers: list[torch.optim.Optimizer], model_slots: list[Slot], params: dict[str, torch.Tensor]
) -> PackedRule:
    """The update rule of the members' optimizers, for the stacked `params` it will update (its state takes
    their layout): one rule where every member is of one kind, else a rule per block of members of one kind."""
    if len({rule_kind(o) for o in optimizers}) == 1:
        return rule_for(optimizers[0])(optimizers, model_slots, params)
    return BlockRules(optimizers, model_slots, params)
