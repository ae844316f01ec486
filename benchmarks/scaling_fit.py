"""Chinchilla approach 3 on the published data (Besiroglu et al. 2024's 240 runs): trainlab's fit (scored
grid, L-BFGS with the analytic gradient from the best 20 starts) and 1,000 bootstrap refits, against the
replication's procedure (L-BFGS-B from each of the 4,500 grid points, finite-difference gradients), in
one invocation. Prints one JSON line last.

    python benchmarks/scaling_fit.py [--resamples 1000] [--grid-starts 4500] [--data ../shared/data/chinchilla]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from trainlab.analysis.scaling import GRID, bootstrap, fit_parametric, interval, objective
from trainlab.api.scaling import read_table


def replication_grid(n: np.ndarray, d: np.ndarray, loss: np.ndarray, starts: int) -> tuple[float, float, float]:
    """The replication's search: every grid point a start, scipy's default finite differences."""
    data = (np.log(n), np.log(d), np.log(loss))
    best = min(
        (minimize(lambda t: objective(t, *data)[0], start, method="L-BFGS-B") for start in GRID[:starts]),
        key=lambda r: r.fun,
    )
    a, b, e, alpha, beta = best.x
    return float(np.exp(e)), float(alpha), float(beta)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--grid-starts", type=int, default=len(GRID))
    p.add_argument("--data", default="../shared/data/chinchilla")
    args = p.parse_args()
    path = Path(args.data) / "svg_extracted_data.csv"
    if path.exists():
        table, _ = read_table(path, "Model Size", "loss", None, "Training FLOP")
        table = table.sort_values("loss").iloc[:-5]  # as the replication: the 5 runs of highest loss out
    else:  # a synthetic table from Hoffmann et al.'s law, for a smoke run without the data
        rng = np.random.default_rng(0)
        n, d = 10 ** rng.uniform(7, 10, 240), 10 ** rng.uniform(9, 12, 240)
        table = {"N": n, "D": d, "loss": 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28 + rng.normal(0, 0.01, 240)}
    n, d, loss = (np.asarray(table[k], float) for k in ("N", "D", "loss"))
    t0 = time.perf_counter()
    fit = fit_parametric(n, d, loss)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    values = bootstrap(n, d, loss, fit, args.resamples)
    bootstrap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    grid_e, grid_alpha, grid_beta = replication_grid(n, d, loss, args.grid_starts)
    grid_s = time.perf_counter() - t0
    result = {
        "benchmark": "scaling_fit",
        "ratio_grid_vs_fit": round(grid_s / fit_s, 2),
        "fit_s": round(fit_s, 3),
        "bootstrap_s": round(bootstrap_s, 3),
        "grid_s": round(grid_s, 3),
        "E": round(fit.E, 4),
        "A": round(fit.A, 1),
        "B": round(fit.B, 1),
        "alpha": round(fit.alpha, 4),
        "beta": round(fit.beta, 4),
        "grid_E": round(grid_e, 4),
        "grid_alpha": round(grid_alpha, 4),
        "grid_beta": round(grid_beta, 4),
        "alpha_95": [round(v, 4) for v in interval(values["alpha"])],
        "beta_95": [round(v, 4) for v in interval(values["beta"])],
        "E_95": [round(v, 4) for v in interval(values["E"])],
        "resamples": args.resamples,
        "grid_starts": args.grid_starts,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
