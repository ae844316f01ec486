"""The packed update rules against torch.optim itself, member by member: weights after several steps, and the
optimizer state they write back, which must be exactly what torch would save (and load)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.optim import OPTIMIZERS
from trainlab.optim.packed import packed_rule, slots, unpackable
from trainlab.spec import OptimConfig
from trainlab.train.build import _param_groups
from trainlab.train.packed import laid_out

# Members of one pack, each with its own hyperparameters: of one kind of update rule, or of several.
PACKS = {
    "sgd family": [
        OptimConfig(name="sgd", lr=0.1),
        OptimConfig(name="momentum", lr=0.05, momentum=0.9, weight_decay=0.01),
        OptimConfig(name="nesterov", lr=0.02, momentum=0.8),
    ],
    "adam family": [
        OptimConfig(name="adam", lr=0.01),
        OptimConfig(name="adam", lr=0.003, weight_decay=0.01, betas=(0.8, 0.99), eps=1e-6),
        OptimConfig(name="adamw", lr=0.002, weight_decay=0.1),
    ],
    # Members that share every hyperparameter but the learning rate (a sweep's packs): the rules then use
    # scalars where the members agree, a path of its own
    "nesterov, learning rates": [OptimConfig(name="nesterov", lr=lr, momentum=0.9) for lr in (0.1, 0.01)],
    "momentum, learning rates": [OptimConfig(name="momentum", lr=lr, momentum=0.9) for lr in (0.1, 0.01)],
    "adamw, learning rates": [OptimConfig(name="adamw", lr=lr, weight_decay=0.01) for lr in (0.01, 0.001)],
    "adam, one setting": [OptimConfig(name="adam", lr=0.01)] * 2,
    # Every kind in one pack, each kind a block of members (as the packed loop orders them), and kinds
    # interleaved (a block of one member each)
    "every kind, a block each": [
        OptimConfig(name="sgd", lr=0.1),
        OptimConfig(name="sgd", lr=0.05, weight_decay=0.01),
        OptimConfig(name="momentum", lr=0.05, momentum=0.9),
        OptimConfig(name="nesterov", lr=0.02, momentum=0.8),
        OptimConfig(name="adam", lr=0.01),
        OptimConfig(name="adamw", lr=0.002, weight_decay=0.1),
    ],
    "kinds interleaved": [
        OptimConfig(name="adam", lr=0.01),
        OptimConfig(name="sgd", lr=0.1),
        OptimConfig(name="adamw", lr=0.002, weight_decay=0.1),
        OptimConfig(name="momentum", lr=0.05, momentum=0.9),
    ],
}
STEPS = 6


def _member(seed: int, config: OptimConfig) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    # decay: matrices puts the biases in a group of their own without weight decay, as the runs do
    return model, OPTIMIZERS.get(config.name).build(_param_groups(model, "matrices", config.lr), config)


def _gradients(step: int, model: nn.Module) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    return {n: torch.randn(p.shape, generator=g) for n, p in model.named_parameters()}


@pytest.mark.parametrize("transposed", [False, True], ids=["contiguous", "weights laid out as their gradients"])
@pytest.mark.parametrize("configs", list(PACKS.values()), ids=list(PACKS))
def test_packed_rule_matches_torch_optim_on_every_member(configs: list[OptimConfig], transposed: bool) -> None:
    """STEPS steps with the same gradients: every member's weights equal torch's to 1e-6, and the state
    written back has torch's keys, shapes, dtypes, values (to float rounding) and contiguous layout, in tensors
    of their own (not views of the pack, which torch.save would store whole); also where the stacked weight
    matrices are stored transposed, as the packed loop lays them out."""
    alone = [_member(i, c) for i, c in enumerate(configs)]
    packed = [_member(i, c) for i, c in enumerate(configs)]
    model_slots = slots(*packed[0])
    params = {
        s.name: torch.stack([dict(m.named_parameters())[s.name].detach() for m, _ in packed]) for s in model_slots
    }
    if transposed:
        params = {n: laid_out(p, (0, 2, 1) if p.dim() == 3 else None) for n, p in params.items()}
        assert not params["0.weight"].is_contiguous()
    rule = packed_rule([o for _, o in packed], model_slots, params)
    for step in range(STEPS):
        grads = {}
        for i, (model, optimizer) in enumerate(alone):
            for n, g in _gradients(step * 10 + i, model).items():
                dict(model.named_parameters())[n].grad = g
                grads.setdefault(n, []).append(g)
            optimizer.step()
        with torch.no_grad():
            rule.step(params, {n: torch.stack(g) for n, g in grads.items()})
    rule.write_back()
    for i, ((model, optimizer), (twin, packed_optimizer)) in enumerate(zip(alone, packed)):
        for n, p in model.named_parameters():
            torch.testing.assert_close(params[n][i], p.detach(), rtol=1e-6, atol=1e-7)
        theirs, ours = optimizer.state_dict(), packed_optimizer.state_dict()
        assert ours["param_groups"] == theirs["param_groups"]
        assert ours["state"].keys() == theirs["state"].keys()
        for key, state in theirs["state"].items():
            assert state.keys() == ours["state"][key].keys()
            for name, value in state.items():
                assert ours["state"][key][name].dtype == value.dtype and ours["state"][key][name].shape == value.shape
                assert ours["state"][key][name].stride() == value.stride()
                torch.testing.assert_close(ours["state"][key][name], value, rtol=1e-5, atol=1e-6)
                assert ours["state"][key][name].untyped_storage().nbytes() == value.untyped_storage().nbytes()


def test_optimizers_without_a_packed_rule_say_why() -> None:
    p = [nn.Parameter(torch.ones(2))]
    assert unpackable(torch.optim.SGD(p, lr=0.1)) is None
    assert unpackable(torch.optim.AdamW(p, lr=0.1)) is None
    assert "RMSprop" in unpackable(torch.optim.RMSprop(p, lr=0.1))
    assert "amsgrad" in unpackable(torch.optim.Adam(p, lr=0.1, amsgrad=True))
    assert "dampening" in unpackable(torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1))
