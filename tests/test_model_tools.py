"""The analyses on a user's own model from Python: `trainlab.landscape` (a surface around any nn.Module, with
any loss, recorded with a tracked run so its study's report draws it) and `trainlab.Ticket` (magnitude
pruning, rewinding, keeping pruned weights at zero in a loop trainlab did not write)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import trainlab
from tests.conftest import run_cli
from trainlab.errors import TrainlabError
from trainlab.store import open_store


def regression() -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A model whose outputs are not class scores, so only the user's loss can evaluate it."""
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = x @ torch.randn(5, 2) + 0.1 * torch.randn(64, 2)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2))
    return model, [(x[:32], y[:32]), (x[32:], y[32:])]


def test_landscape_of_a_users_model_with_its_own_loss_centres_on_its_loss_and_restores_its_weights() -> None:
    model, batches = regression()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = trainlab.landscape(model, nn.functional.mse_loss, batches, grid=5, range=(-0.5, 0.5))
    loss = result.surface.values["loss"]
    assert loss.shape == (5, 5) and set(result.surface.values) == {"loss"}
    with torch.no_grad():
        own = sum(float(nn.functional.mse_loss(model(x), y)) * len(y) for x, y in batches) / 64
    assert loss[2, 2] == pytest.approx(own, rel=1e-6)  # the grid's centre is the model as it is
    assert loss.min() <= loss[2, 2] < loss.max()  # and the plane goes somewhere
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert result.folder is None  # given no run and no folder, nothing is written


def test_landscape_toward_the_initial_weights_reaches_them_at_one(tmp_path: Path) -> None:
    model, batches = regression()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    result = trainlab.landscape(
        model, nn.functional.mse_loss, batches, dirs="init", init=init, grid=3, range=(0.0, 1.0), out=tmp_path
    )
    at_init = result.surface.values["loss"][0, 2]  # x = 1 along (init - w), y = 0 along the random direction
    model.load_state_dict(init)
    with torch.no_grad():
        expected = sum(float(nn.functional.mse_loss(model(x), y)) * len(y) for x, y in batches) / 64
    assert at_init == pytest.approx(expected, rel=1e-5)
    assert (result.folder / "landscape.csv").read_text().startswith("epoch,x,y,loss")


def test_landscape_and_ticket_recorded_with_a_tracked_run_reach_its_report(tmp_path: Path) -> None:
    torch.manual_seed(1)
    x = torch.randn(128, 6)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(6, 24), nn.ReLU(), nn.Linear(24, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    with trainlab.track("own", config={"seed": 0}, store=tmp_path / "store", model=model) as run:
        ticket = trainlab.Ticket(model)
        states = []
        for _ in range(3):
            for i in range(0, 128, 32):
                loss = nn.functional.cross_entropy(model(x[i : i + 32]), y[i : i + 32])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.log({"loss": loss})
            run.log_epoch({"loss": loss.detach()})
            states.append({k: v.clone() for k, v in model.state_dict().items()})
        ticket.prune(0.5)
        mask_file = ticket.save(run)
        result = trainlab.landscape(model, None, [(x, y)], grid=4, trajectory=states, run=run)
    assert [e for e, _, _ in result.trajectory] == [1, 2, 3]
    assert set(result.surface.values) == {"loss", "accuracy", "perplexity"}
    store = open_store(tmp_path / "store")
    (artifact,) = store.artifacts(run.id)
    facts = json.loads(store.run_row(run.id)["facts"])
    params = store.run_row(run.id)["params_total"]
    store.close()
    assert params == 6 * 24 + 24 + 24 * 2 + 2  # counted from the model given to track
    assert artifact["kind"] == "landscape" and (tmp_path / "store" / artifact["path"] / "contour_loss.png").exists()
    assert facts["remaining"]["total"] == 0.5
    saved = torch.load(mask_file, weights_only=True)
    assert set(saved) == {"0.weight", "2.weight"} and all(torch.equal(saved[n], m) for n, m in ticket.mask.items())
    out = tmp_path / "report"
    assert run_cli("report", "own", "--store", str(tmp_path / "store"), "--out", str(out)).returncode == 0
    assert "Loss landscapes" in (out / "index.html").read_text()


def test_ticket_prunes_the_smallest_weights_of_each_layer_and_compounds() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    ticket = trainlab.Ticket(model)
    first = model[0].weight.detach().abs().clone()
    ticket.prune(0.2)
    kept = ticket.mask["0.weight"]
    assert int(kept.sum()) == 160 and int(ticket.mask["2.weight"].sum()) == 80
    assert first[kept].min() >= first[~kept].max()  # the removed ones were the smallest
    ticket.prune(0.2)  # 20 % of the 160 survivors: 128
    assert int(ticket.mask["0.weight"].sum()) == 128
    assert ticket.remaining()["total"] == pytest.approx((128 + 64) / 300)
    assert "0.bias" not in ticket.mask  # biases are never prunable by default


def test_ticket_rewinds_to_its_point_and_keeps_pruned_weights_at_zero_through_training() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    ticket = trainlab.Ticket(model)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.01)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))

    def steps(n: int) -> None:
        for _ in range(n):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    steps(5)
    ticket.prune(0.5, scope="global")
    ticket.rewind()
    for name, mask in ticket.mask.items():
        assert torch.equal(model.state_dict()[name], start[name] * mask)
    assert torch.equal(model[0].bias, start["0.bias"])
    handle = ticket.keep_pruned(optimizer)
    steps(5)  # momentum would move pruned weights off zero without the hook
    assert all(int((model.state_dict()[n][~m] != 0).sum()) == 0 for n, m in ticket.mask.items())
    handle.remove()
    control = ticket.randomized(seed=3)
    assert {n: int(m.sum()) for n, m in control.items()} == {n: int(m.sum()) for n, m in ticket.mask.items()}
    assert any(not torch.equal(control[n], ticket.mask[n]) for n in control)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, b: trainlab.landscape(m, None, b, grid=0), "grid"),
        (lambda m, b: trainlab.landscape(m, None, b, dirs="init"), "needs init="),
        (lambda m, b: trainlab.landscape(m, None, [], grid=3), "batches is empty"),
        (lambda m, b: trainlab.landscape(m, None, b, grid=3, run="abc"), "needs store="),
        (lambda m, b: trainlab.Ticket(m).prune(1.5), "must be in (0, 1)"),
        (lambda m, b: trainlab.Ticket(m).save(None), "give the tracked run"),
        (lambda m, b: trainlab.Ticket(m, prunable=("nothing.*",)), "matches no parameter"),
    ],
)
def test_bad_input_to_the_model_tools_is_one_line(call, message: str) -> None:  # noqa: ANN001
    model, batches = regression()
    with pytest.raises(TrainlabError) as err:
        call(model, batches)
    assert message in str(err.value) and "\n" not in str(err.value)
