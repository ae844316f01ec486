"""IsoFLOP profiles on a ladder drawn from a known scaling law: the minima follow Hoffmann et al.'s
closed-form compute-optimal size, and the line through them has the law's exponent."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.analysis.isoflop import ModelCurve, fit_line, profile, smooth

# Chinchilla's published approach-3 law (Hoffmann et al. 2022, eq. 10).
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28


def law(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    return E + A / n**ALPHA + B / d**BETA


def n_opt(c: float) -> float:
    """Hoffmann et al. 2022, eq. 4: N_opt(C) = G (C/6)^(β/(α+β)), G = (αA / βB)^(1/(α+β))."""
    g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    return g * (c / 6) ** (BETA / (ALPHA + BETA))


def ladder() -> list[ModelCurve]:
    """Nine model sizes from 3e7 to 1e10 parameters, each evaluated at 50 points from 1e17 to 1e22 FLOPs
    (C = 6ND)."""
    curves = []
    for n in np.geomspace(3e7, 1e10, 9):
        c = np.geomspace(1e17, 1e22, 50)
        d = c / (6 * n)
        curves.append(ModelCurve(f"{n:.2g}", float(n), c, d, law(n, d)))
    return curves


def test_isoflop_minima_follow_the_closed_form_compute_optimal_size() -> None:
    """At each budget the quadratic's minimum lies within 10 % of eq. 4's N_opt, and the line through the
    minima has slope β/(α+β) = 0.452 within 0.02."""
    smooths = [smooth(c) for c in ladder()]
    budgets = np.geomspace(1e19, 1e21, 5)
    profiles = [profile(smooths, b) for b in budgets]
    for p in profiles:
        assert p.n_opt == pytest.approx(n_opt(p.budget), rel=0.10)
    line = fit_line(budgets, np.array([p.n_opt for p in profiles]))
    assert line.slope == pytest.approx(BETA / (ALPHA + BETA), abs=0.02)
    low, high = line.band(1e22)
    assert low < line.predict(1e22) < high


def test_a_budget_few_models_reach_has_no_profile() -> None:
    """Beyond the FLOPs of all but two models there is no minimum to read."""
    curves = [
        ModelCurve("small", 1e6, np.geomspace(1e9, 1e12, 10), np.ones(10), np.linspace(3, 2, 10)),
        ModelCurve("mid", 1e7, np.geomspace(1e10, 1e13, 10), np.ones(10), np.linspace(3, 1.8, 10)),
        ModelCurve("big", 1e8, np.geomspace(1e11, 1e14, 10), np.ones(10), np.linspace(3, 1.6, 10)),
    ]
    smooths = [smooth(c) for c in curves]
    assert profile(smooths, 5e11).n_opt is not None or profile(smooths, 5e11).coefficients is not None
    far = profile(smooths, 5e13)
    assert len(far.params) == 1 and far.n_opt is None and far.coefficients is None


def test_the_line_interval_shrinks_where_the_data_are() -> None:
    """The 95 % band of the mean is narrowest at the centre of the budgets and widens when extrapolating."""
    rng = np.random.default_rng(0)
    c = np.geomspace(1e10, 1e12, 6)
    y = 10 ** (0.3 * np.log10(c) + 1.2 + rng.normal(0, 0.02, len(c)))
    line = fit_line(c, y)
    width = lambda at: np.subtract(*reversed(line.band(at))) / line.predict(at)  # noqa: E731
    assert width(1e11) < width(1e12) < width(1e15)
    lo, hi = line.slope_interval()
    assert lo < 0.3 < hi


def test_a_minimum_beyond_the_ladder_is_not_an_optimum() -> None:
    """When the loss at a budget rises with N across all models, the vertex lies below the smallest model:
    no N_opt, and the reason says which way the loss keeps falling."""
    c = np.geomspace(1e9, 1e12, 10)
    curves = [
        ModelCurve(str(n), n, c, np.ones(10), 2 + np.log10(n) / 10 + (1e12 / c) ** 0.1 + 0.05 * np.log10(n) ** 2 / 10)
        for n in (1e4, 1e5, 1e6)
    ]
    p = profile([smooth(x) for x in curves], 1e11)
    assert p.n_opt is None and "toward the smallest model" in p.problem
