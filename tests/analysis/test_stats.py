"""Seed statistics and curve helpers, checked against hand computations."""

from __future__ import annotations

import math

import pandas as pd

from trainlab.analysis.curves import first_reaching, within_target
from trainlab.analysis.stats import mean_ci


def test_ci_matches_a_hand_computation() -> None:
    """Values 1, 2, 3, 4: mean 2.5, s = 1.2910, t(0.975, 3) = 3.1824, half width = 3.1824·1.2910/2."""
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    s = math.sqrt(((1.5**2) * 2 + (0.5**2) * 2) / 3)
    assert ci.n == 4 and ci.mean == 2.5
    assert math.isclose(ci.half_width, 3.182446305284263 * s / 2, rel_tol=1e-9)
    assert ci.text(2) == f"2.50 ± {ci.half_width:.2f} (n=4)"


def test_one_seed_has_no_interval_and_nans_are_ignored() -> None:
    """A single finite value is its own mean; no interval is claimed."""
    ci = mean_ci([float("nan"), 0.7])
    assert ci.n == 1 and ci.mean == 0.7 and math.isnan(ci.half_width) and ci.text() == "0.7000"


def test_first_reaching_and_target() -> None:
    """The first epoch at or past the target, NaN when never reached."""
    acc = pd.Series([0.5, 0.8, 0.79, 0.9], index=[1, 2, 3, 4])
    assert first_reaching(acc, 0.8, "max") == 2
    assert math.isnan(first_reaching(acc, 0.95, "max"))
    assert first_reaching(pd.Series([3.0, 2.0, 1.0], index=[1, 2, 3]), 2.0, "min") == 2
    assert within_target(0.9, "max") == 0.9 * 0.95 and within_target(100.0, "min") == 105.0
