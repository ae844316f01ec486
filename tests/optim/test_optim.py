"""Optimizer and schedule factories: each builds and steps; schedules follow their formulas."""

from __future__ import annotations

import math

import pytest
import torch

from trainlab.optim import OPTIMIZERS, SCHEDULES
from trainlab.spec import OptimConfig, ScheduleConfig


def param() -> torch.nn.Parameter:
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.ones(3)
    return p


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_steps_downhill(name: str) -> None:
    """One step against a positive gradient lowers every weight."""
    p = param()
    OPTIMIZERS.get(name).build([p], OptimConfig(name=name, lr=0.1)).step()
    assert (p.detach() < 1).all()


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_takes_the_fused_kernel_and_every_parameter_of_its_groups(name: str) -> None:
    """CPU parameters, given as param groups of generators, reach a fused Adam whole."""
    decay, rest = param(), param()
    groups = [{"params": (p for p in [decay]), "weight_decay": 0.1}, {"params": iter([rest]), "weight_decay": 0.0}]
    opt = OPTIMIZERS.get(name).build(groups, OptimConfig(name=name, lr=0.1))
    assert opt.defaults["fused"] is True
    assert [g["params"] for g in opt.param_groups] == [[decay], [rest]]
    opt.step()
    assert (decay.detach() < 1).all() and (rest.detach() < 1).all()


def test_momentum_and_nesterov_are_what_they_say() -> None:
    """momentum/nesterov carry the configured momentum; sgd has none; nesterov flag set."""
    cfg = OptimConfig(lr=0.1, momentum=0.8)
    groups = {n: OPTIMIZERS.get(n).build([param()], cfg).param_groups[0] for n in ("sgd", "momentum", "nesterov")}
    assert groups["sgd"]["momentum"] == 0
    assert groups["momentum"]["momentum"] == 0.8 and not groups["momentum"]["nesterov"]
    assert groups["nesterov"]["nesterov"]


def lrs(name: str, steps: int, epochs: int = 0, **cfg: object) -> list[float]:
    opt = torch.optim.SGD([param()], lr=1.0)
    sched = SCHEDULES.get(name).build(opt, ScheduleConfig(name=name, **cfg), steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.after_step()
    for _ in range(epochs):
        opt.step()
        sched.after_epoch(1.0)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_warmup_cosine_rises_then_decays_to_min_lr() -> None:
    """Linear warmup over warmup_steps, then a half cosine to min_lr at the last step."""
    lr = lrs("warmup_cosine", 110, warmup_steps=10, min_lr=0.1)
    assert lr[0] == pytest.approx(1 / 11) and lr[9] == pytest.approx(10 / 11) and lr[10] == pytest.approx(1.0)
    assert lr[60] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(lr[10:], lr[11:]))


def test_step_schedule_drops_at_milestones() -> None:
    """MultiStep: lr × gamma after epochs 2 and 4."""
    assert lrs("step", 0, epochs=5, milestones=(2, 4), gamma=0.1) == pytest.approx([1, 0.1, 0.1, 0.01, 0.01])


def test_plateau_waits_patience_epochs() -> None:
    """A constant valid loss: lr drops by factor after patience + 1 epochs without improvement."""
    assert lrs("plateau", 0, epochs=4, factor=0.5, patience=1) == [1, 1, 0.5, 0.5]


def test_noam_warms_up_then_decays_as_one_over_root_t() -> None:
    """Vaswani et al. eq. 3 with lr_mul: at step t (from 1), lr_mul · d^-0.5 · min(t^-0.5, t · w^-1.5);
    worked by hand for d = 512, w = 4000, lr_mul = 0.5: t=1 -> 0.5/√512/4000^1.5, peak at t = 4000 ->
    0.5/√512/√4000, t = 16000 -> half the peak."""
    lr = lrs("noam", 16_000, warmup_steps=4000, d_model=512, lr_mul=0.5)
    peak = 0.5 / math.sqrt(512) / math.sqrt(4000)
    assert lr[0] == pytest.approx(0.5 / math.sqrt(512) / 4000**1.5)
    assert lr[3999] == pytest.approx(peak) and max(lr) == pytest.approx(peak)
    assert lr[15999] == pytest.approx(peak / 2)


def test_noam_without_warmup_is_refused() -> None:
    """warmup_steps 0 would divide by zero: the config says so before any work."""
    with pytest.raises(ValueError, match="noam needs warmup_steps >= 1"):
        ScheduleConfig(name="noam")
