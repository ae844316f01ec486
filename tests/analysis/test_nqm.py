"""The noisy quadratic model in expectation: equal to the plain SGD recursion, to a Monte-Carlo simulation
with momentum and preconditioning, and Zhang et al.'s finding that preconditioning raises the critical
batch size."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.analysis.batch_size import fit_tradeoff
from trainlab.analysis.nqm import NQM, dynamics, steps_to


def test_sgd_matches_the_one_dimensional_recursion() -> None:
    """Without momentum, E θ_i² follows (1 - η h_i)² m + η² h_i / B step by step."""
    model, lr, batch = NQM(100), 0.3, 8
    h = model.curvatures
    m = np.ones_like(h)
    d = dynamics(model, lr, batch)
    for t in range(1, 30):
        m = (1 - lr * h) ** 2 * m + lr**2 * h / batch
        assert d.loss(t) == pytest.approx(0.5 * float((h * m).sum()), rel=1e-9)


def test_momentum_and_preconditioning_match_a_monte_carlo_simulation() -> None:
    """20,000 simulated trajectories of heavy-ball momentum with P = H^-½ agree with the exact expectation
    within 3 % after 5, 20 and 60 steps."""
    model, lr, batch, beta, p = NQM(20), 0.05, 4, 0.9, 0.5
    h = model.curvatures
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((20_000, 20))
    v = np.zeros_like(theta)
    d = dynamics(model, lr, batch, beta, p)
    for t in range(1, 61):
        g = h * theta + rng.standard_normal(theta.shape) * np.sqrt(h / batch)
        v = beta * v - lr * h**-p * g
        theta = theta + v
        if t in (5, 20, 60):
            simulated = 0.5 * float((h * theta**2).sum(axis=1).mean())
            assert d.loss(t) == pytest.approx(simulated, rel=0.03)


def test_preconditioning_raises_the_critical_batch_size() -> None:
    """On a 4,000-dimensional NQM, best-learning-rate steps to loss 0.1 give B_crit(preconditioned) >
    B_crit(momentum) > B_crit(SGD) (Zhang et al. 2019, Fig. 2; preconditioned = momentum with P = H^-½)."""
    model, batches, lrs = NQM(4000), [1, 4, 16, 64, 256, 1024, 4096, 16384], np.geomspace(1e-5, 4, 12)
    b_crit = {}
    for name, beta, p in (("sgd", 0.0, 0.0), ("momentum", 0.9, 0.0), ("preconditioned", 0.9, 0.5)):
        steps = [min(steps_to(dynamics(model, lr, b, beta, p), 0.1) for lr in lrs) for b in batches]
        b_crit[name] = fit_tradeoff(np.array(batches), np.array(steps)).b_crit
    assert b_crit["preconditioned"] > b_crit["momentum"] > b_crit["sgd"]


def test_the_tradeoff_fit_recovers_a_known_hyperbola() -> None:
    """Steps S_min + E_min/B with 3 % noise give B_crit = E_min/S_min = 500 within 15 %."""
    rng = np.random.default_rng(1)
    b = np.array([8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096], float)
    s = (1000 + 5e5 / b) * np.exp(rng.normal(0, 0.03, len(b)))
    assert fit_tradeoff(b, s).b_crit == pytest.approx(500, rel=0.15)
