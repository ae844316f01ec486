"""Loss landscapes: normalisation, analytic surfaces, centre and endpoints, exact restore, PCA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trainlab.weightspace import (
    batch_metrics,
    interpolate,
    pca_directions,
    project,
    random_direction,
    surface,
    toward,
    weights,
)


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(2)]


def test_filter_normalised_directions_match_the_weights_filter_norms() -> None:
    """Each filter of the direction has the norm of the same filter of the weights; 1-D tensors are zero."""
    model = small_net()
    d = random_direction(model, "filter", generator=torch.Generator().manual_seed(0))
    for name, w in model.named_parameters():
        if w.dim() > 1:
            torch.testing.assert_close(d[name].flatten(1).norm(dim=1), w.detach().flatten(1).norm(dim=1))
        else:
            assert not d[name].any()
    layer = random_direction(model, "layer", include_1d=True, generator=torch.Generator().manual_seed(0))
    assert all(torch.isclose(layer[n].norm(), w.detach().norm()) for n, w in model.named_parameters())


class Quadratic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))


def test_quadratic_loss_gives_the_analytic_surface() -> None:
    """L(w) = ||w - w*||²: the grid equals ||w0 + a·d1 + b·d2 - w*||² computed by hand."""
    model, target = Quadratic(), torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    evaluate = lambda m: {"loss": float(((m.w.detach() - target) ** 2).sum())}  # noqa: E731
    d1 = {"w": torch.tensor([[1.0, 0.0], [0.0, 1.0]])}
    d2 = {"w": torch.tensor([[0.0, 2.0], [-1.0, 0.0]])}
    xs, ys = np.linspace(-1, 1, 5), np.linspace(-0.5, 0.5, 3)
    s = surface(model, evaluate, [d1, d2], xs, ys)
    w0 = model.w.detach()
    expected = [[float(((w0 + a * d1["w"] + b * d2["w"] - target) ** 2).sum()) for a in xs] for b in ys]
    np.testing.assert_allclose(s.values["loss"], expected, rtol=1e-6)


def test_centre_equals_the_models_metrics_and_weights_come_back_bit_identical() -> None:
    """The (0, 0) point is the model itself; after the grid (or an error inside it) every tensor,
    buffers included, is bit-identical, and the model's train/eval mode is restored."""
    model = small_net()
    model.train()
    evaluate = batch_metrics(batches())
    model.eval()
    centre = evaluate(model)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    dirs = [random_direction(model, generator=torch.Generator().manual_seed(i), mode="states") for i in (1, 2)]
    s = surface(model, evaluate, dirs, [-1.0, 0.0, 1.0], [-0.5, 0.0, 0.5], mode="states")
    assert s.values["loss"][1, 1] == centre["loss"] and s.values["accuracy"][1, 1] == centre["accuracy"]
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    def failing(m: nn.Module) -> dict[str, float]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        surface(model, failing, dirs[:1], [0.7])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_interpolation_endpoints_are_the_two_models() -> None:
    """α = 0 and α = 1 give exactly the metrics of the start and end weights."""
    a, b = small_net(), small_net()
    with torch.no_grad():
        for p in b.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    evaluate = batch_metrics(batches())
    a.eval(), b.eval()
    line = interpolate(a, evaluate, weights(a), weights(b), [0.0, 0.5, 1.0])
    assert line.values["loss"][0] == evaluate(a)["loss"] and line.values["loss"][2] == evaluate(b)["loss"]
    assert line.values["loss"][1] != line.values["loss"][0]


def test_toward_reaches_the_target_at_one() -> None:
    """α = 1 along toward(init) puts the model on the init weights."""
    model, init = small_net(), weights(small_net())
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    d = toward(model, init)
    evaluate = batch_metrics(batches())
    s = surface(model, evaluate, [d], [1.0])
    reference = small_net()
    reference.load_state_dict({**model.state_dict(), **init})
    reference.eval()
    assert s.values["loss"][0] == pytest.approx(evaluate(reference)["loss"], rel=1e-6)


def test_pca_of_a_straight_trajectory_finds_the_line() -> None:
    """States c + t·v: the first principal direction is ±v/|v|, explaining all the variance, and the
    projections recover t·|v| up to sign."""
    g = torch.Generator().manual_seed(0)
    c = {"a": torch.randn(3, 4, generator=g), "b": torch.randn(5, generator=g)}
    v = {"a": torch.randn(3, 4, generator=g), "b": torch.randn(5, generator=g)}
    ts = [0.0, 0.5, 1.0, 2.0, 3.0]
    states = [{n: c[n] + t * v[n] for n in c} for t in ts]
    (d1, d2), explained = pca_directions(states, states[-1], ["a", "b"])
    flat_v = torch.cat([v["a"].flatten(), v["b"]])
    flat_d = torch.cat([d1["a"].flatten(), d1["b"]])
    assert abs(float(flat_d @ flat_v / flat_v.norm())) == pytest.approx(1.0, abs=1e-5)
    assert float(explained[0]) == pytest.approx(1.0, abs=1e-6)
    coords = [project(s, states[-1], [d1, d2])[0] for s in states]
    np.testing.assert_allclose(np.abs(np.diff(coords)), np.diff(ts) * float(flat_v.norm()), rtol=1e-4)


def test_cached_first_linear_layer_gives_the_same_surface() -> None:
    """An MLP surface computed with the cached first-layer products equals the plain computation,
    and the model gets its own Linear module back afterwards."""
    import sys

    from trainlab.weightspace.linear_cache import CachedLinear

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))
    data = [(torch.randn(20, 1, 8, 8), torch.randint(0, 3, (20,)))]
    evaluate = batch_metrics(data)
    dirs = [
        random_direction(model, "filter", include_1d=True, generator=torch.Generator().manual_seed(i)) for i in (1, 2)
    ]
    fast = surface(model, evaluate, dirs, [-1.0, 0.5, 1.0], [-0.5, 0.25])
    module = sys.modules["trainlab.weightspace.surface"]
    original = module.linear_cache
    module.linear_cache = lambda m, d: __import__("contextlib").nullcontext(None)
    try:
        plain = surface(model, evaluate, dirs, [-1.0, 0.5, 1.0], [-0.5, 0.25])
    finally:
        module.linear_cache = original
    np.testing.assert_allclose(fast.values["loss"], plain.values["loss"], rtol=1e-5)
    assert isinstance(model[1], nn.Linear) and not isinstance(model[1], CachedLinear)
