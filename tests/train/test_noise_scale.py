"""The gradient noise scale: unbiased estimators on synthetic gradients, and the hook inside a real run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import write_study
from tests.train.test_loop import results
from trainlab.api import run_study
from trainlab.store import open_store
from trainlab.train.noise_scale import NoiseScale


def test_estimators_recover_a_known_gradient_and_noise_within_5_percent() -> None:
    """Per-example gradients g + ε with |g|² = 4 and ε ~ N(0, 0.5 I) in 200 dimensions (tr Σ = 100, so
    B_simple = 25): batches of 64 and their first halves give |G|², tr(Σ) and B_simple within 5 %."""
    gen = torch.Generator().manual_seed(0)
    d, b_big, b_small = 200, 64, 32
    g = torch.zeros(d, dtype=torch.float64)
    g[:4] = 1.0  # |g|² = 4
    estimate = NoiseScale(decay=0.999)
    for _ in range(3000):
        per_example = g + 0.5**0.5 * torch.randn(b_big, d, generator=gen, dtype=torch.float64)
        big, small = per_example.mean(0), per_example[:b_small].mean(0)
        estimate.update(float(small @ small), float(big @ big), b_small, b_big)
    got = estimate.estimates()
    assert got["grad_sq"] == pytest.approx(4.0, rel=0.05)
    assert got["trace_cov"] == pytest.approx(100.0, rel=0.05)
    assert got["noise_scale"] == pytest.approx(25.0, rel=0.05)
    assert (float(big @ big) - 4) / 4 > 0.3  # the naive |G_big|² alone is far off: noise adds tr(Σ)/B = 1.6


def test_measuring_the_noise_scale_logs_it_and_leaves_training_unchanged(tmp_path: Path) -> None:
    """With dropout on, a run that measures the noise scale every 2 steps logs positive values at each
    evaluation and trains to exactly the metrics of a run that does not measure it."""
    overrides = {"model.dropout": 0.1, "optim.lr": 0.05}
    for name, extra in (
        ("plain", {}),
        ("measured", {"train.gradient_noise_scale": True, "train.noise_scale_every": 2}),
    ):
        (tmp_path / name).mkdir()
        run_study(write_study(tmp_path / name), {**overrides, **extra})
    measured = open_store(tmp_path / "measured" / "store").metrics()
    scale = measured[(measured["split"] == "train") & (measured["name"] == "noise_scale")]
    assert scale["epoch"].tolist() == [1, 2, 3] and (scale["value"] > 0).all()
    noise_names = {"noise_scale", "grad_sq", "trace_cov"}
    a = results(tmp_path / "plain" / "store")
    b = results(tmp_path / "measured" / "store")
    b = b[~b["name"].isin(noise_names)].reset_index(drop=True)
    a, b = a.drop(columns="run_id"), b.drop(columns="run_id")  # the option is in the id
    pd.testing.assert_frame_equal(a, b, check_exact=True)
