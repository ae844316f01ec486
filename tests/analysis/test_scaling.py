"""Chinchilla approach 3: the fit on the published data lands where the replication did, and bad tables
are named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED, assert_user_error, run_cli
from trainlab.analysis.scaling import GRID, fit_parametric, grid_values, objective
from trainlab.api import scaling_fit

CHINCHILLA = SHARED / "chinchilla" / "svg_extracted_data.csv"
# Besiroglu et al. 2024, Table 1: 95 % bootstrap intervals; and the grid optimum of their procedure on
# this file (../shared/data/chinchilla/README.md).
INTERVALS = {"A": (285, 744), "B": (1042, 5810), "E": (1.769, 1.871), "alpha": (0.317, 0.373), "beta": (0.331, 0.415)}
GRID_OPTIMUM = {"E": 1.8172, "alpha": 0.3473, "beta": 0.3672}


@pytest.mark.skipif(not CHINCHILLA.exists(), reason=f"Chinchilla data not found at {CHINCHILLA}")
def test_the_published_data_gives_the_replications_fit() -> None:
    """240 runs (the 5 of highest loss left out, as the replication does): every parameter inside their
    95 % interval, E, α and β within 1 % of the optimum of their 4,500-start grid search."""
    result = scaling_fit(CHINCHILLA, n="Model Size", c="Training FLOP", exclude_top=5, resamples=40)
    fit = result.fit
    assert result.runs == 240 and fit.converged
    for name, (lo, hi) in INTERVALS.items():
        assert lo <= getattr(fit, name) <= hi, name
    for name, value in GRID_OPTIMUM.items():
        assert getattr(fit, name) == pytest.approx(value, rel=0.01), name
    lo, hi = result.intervals["alpha"]
    assert lo < fit.alpha < hi and hi - lo < 0.1


def test_the_gradient_is_the_objectives() -> None:
    """Analytic gradient against central differences on synthetic runs."""
    rng = np.random.default_rng(0)
    n, d = 10 ** rng.uniform(7, 10, 50), 10 ** rng.uniform(9, 11, 50)
    loss = 1.7 + 400 / n**0.34 + 410 / d**0.28 + rng.normal(0, 0.01, 50)
    data = (np.log(n), np.log(d), np.log(loss))
    theta = np.array([6.0, 6.0, 0.5, 0.3, 0.3])
    _, grad = objective(theta, *data)
    eps = 1e-6
    numeric = [
        (objective(theta + eps * e, *data)[0] - objective(theta - eps * e, *data)[0]) / (2 * eps) for e in np.eye(5)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-9)
    assert grid_values(*data).shape == (len(GRID),)


def test_noise_free_runs_give_back_their_law() -> None:
    """Runs made from a known law (Hoffmann et al.'s own values) are fitted back to it."""
    rng = np.random.default_rng(1)
    n, d = 10 ** rng.uniform(7, 10, 80), 10 ** rng.uniform(9, 12, 80)
    fit = fit_parametric(n, d, 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28)
    assert (fit.E, fit.alpha, fit.beta) == pytest.approx((1.69, 0.34, 0.28), rel=1e-3)


def test_a_table_without_the_columns_is_named_and_bad_rows_are_counted(tmp_path: Path) -> None:
    """A missing column lists the columns (exit 2); rows with non-finite or non-positive values are left out
    with a note."""
    path = tmp_path / "runs.csv"
    rng = np.random.default_rng(2)
    n, d = 10 ** rng.uniform(7, 10, 30), 10 ** rng.uniform(9, 12, 30)
    rows = (
        ["N,D,loss"]
        + [f"{a},{b},{1.7 + 400 / a**0.34 + 410 / b**0.28}" for a, b in zip(n, d)]
        + ["1e8,1e10,nan", "1e8,-5,2.0"]
    )
    path.write_text("\n".join(rows) + "\n")
    assert_user_error(
        run_cli("scaling-fit", str(path), "--loss", "final_loss", "--d", "D"),
        "no column 'final_loss'; columns: N, D, loss",
    )
    out = run_cli("scaling-fit", str(path), "--d", "D", "--bootstrap", "0", "--json")
    result = json.loads(out.stdout)
    said = out.stderr.splitlines()  # what it does, on stderr: the JSON stays clean
    assert said[0] == "trainlab: fitting 30 runs ..." and all(
        re.fullmatch(r"trainlab: fitting 30 runs: [\d.]+ s", s) for s in said[1:]
    )
    refits = run_cli("scaling-fit", str(path), "--d", "D", "--bootstrap", "3")
    assert "fitting 30 runs, then 3 bootstrap refits" in refits.stderr and "alpha" in refits.stdout
    assert result["runs"] == 30 and result["notes"] == [
        "2 rows with a missing, non-finite or non-positive value left out"
    ]
    assert_user_error(
        run_cli("scaling-fit", str(path), "--bootstrap", "0"),
        "give the tokens column (--d) or the compute column (--c)",
    )


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("", [], "empty.csv: not a readable CSV (No columns to parse from file)"),
        ("N,D,loss\n" + "1000,20000,3.0\n" * 20, [], "1 distinct model sizes and 1 distinct token counts"),
        ("N,D,loss\n" + "".join(f"{n},2e4,{3 - n / 1e4}\n" for n in range(1000, 9000, 1000)), [], "1 distinct token"),
        ("N,D,loss\n1,2,3\n", ["--bootstrap", "-5"], "--bootstrap: must be 0 or more (got -5)"),
        ("N,D,loss\n1,2,3\n", ["--exclude-top", "-1"], "--exclude-top: must be 0 or more (got -1)"),
    ],
)
def test_tables_the_fit_cannot_use_are_one_line(tmp_path: Path, content: str, args: list[str], message: str) -> None:
    """An empty file (once EmptyDataError), 20 identical runs (once ZeroDivisionError), one token count for
    every run, a negative number of resamples (once IndexError): exit 2, one line."""
    path = tmp_path / "empty.csv"
    path.write_text(content)
    assert_user_error(run_cli("scaling-fit", str(path), "--d", "D", *args), message)
