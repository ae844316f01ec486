"""The overfitting detector on synthetic curves whose answers are known."""

from __future__ import annotations

import pandas as pd

from trainlab.analysis.curves import overfitting_epoch


def series(values: list[float]) -> pd.Series:
    return pd.Series(values, index=range(1, len(values) + 1), dtype=float)


def test_detects_valid_rising_while_train_falls() -> None:
    """Valid minimum at epoch 4, then two rises while train falls: overfitting from epoch 4."""
    train = series([2.0, 1.5, 1.2, 1.0, 0.8, 0.6, 0.5])
    valid = series([2.1, 1.7, 1.5, 1.4, 1.45, 1.5, 1.6])
    assert overfitting_epoch(train, valid) == 4


def test_one_rise_or_a_plateau_is_not_overfitting() -> None:
    """A single uptick, or valid still falling, is not reported."""
    train = series([2.0, 1.5, 1.2, 1.0, 0.8])
    assert overfitting_epoch(train, series([2.1, 1.7, 1.5, 1.4, 1.41])) is None
    assert overfitting_epoch(train, series([2.1, 1.7, 1.5, 1.4, 1.3])) is None


def test_valid_rising_with_train_rising_is_divergence_not_overfitting() -> None:
    """Both losses rising after the minimum (an unstable optimizer) is not overfitting."""
    assert overfitting_epoch(series([2.0, 1.0, 1.5, 2.0]), series([2.0, 1.2, 1.6, 2.2])) is None
