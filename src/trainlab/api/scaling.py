"""`trainlab scaling-fit CSV`: Chinchilla's approach 3 on any table of (N, D or C, loss), with bootstrap
intervals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trainlab.errors import TrainlabError
from trainlab.phases import phase

if TYPE_CHECKING:  # scipy.optimize costs 0.4 s to import: only `scaling-fit` pays it
    from trainlab.analysis.scaling import ParametricFit


@dataclass(frozen=True)
class ScalingFit:
    fit: ParametricFit
    runs: int
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95 % bootstrap, with `a`
    notes: tuple[str, ...] = ()


def read_table(path: str | Path, n: str, loss: str, d: str | None, c: str | None) -> tuple[pd.DataFrame, list[str]]:
    """(N, D, loss) rows of a CSV, D from `d` or as C / 6N from `c` (Kaplan et al. 2020); rows with
    missing, non-finite or non-positive values are left out, with a note saying how many."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise TrainlabError(f"{path}: not a readable CSV ({err})") from None
    wanted = [n, loss, d or c]
    if (d is None) == (c is None):
        raise TrainlabError("scaling-fit: give the tokens column (--d) or the compute column (--c), one of them")
    missing = [col for col in wanted if col not in table.columns]
    if missing:
        raise TrainlabError(f"{path}: no column {missing[0]!r}; columns: {', '.join(map(str, table.columns))}")
    out = pd.DataFrame(
        {"N": pd.to_numeric(table[n], errors="coerce"), "loss": pd.to_numeric(table[loss], errors="coerce")}
    )
    out["D"] = (
        pd.to_numeric(table[d], errors="coerce") if d else pd.to_numeric(table[c], errors="coerce") / (6 * out["N"])
    )
    good = np.isfinite(out).all(axis=1) & (out > 0).all(axis=1)
    notes = (
        [f"{int((~good).sum())} rows with a missing, non-finite or non-positive value left out"]
        if (~good).any()
        else []
    )
    return out[good].reset_index(drop=True), notes


def scaling_fit(
    path: str | Path,
    n: str = "N",
    loss: str = "loss",
    d: str | None = None,
    c: str | None = None,
    exclude_top: int = 0,
    resamples: int = 1000,
    seed: int = 0,
) -> ScalingFit:
    """Fit L(N, D) = E + A/N^α + B/D^β to a CSV; `exclude_top` drops the runs of highest loss first (the
    replication drops 5); `resamples` bootstrap refits give 95 % intervals (0: none). Says what the fit is
    about to do once the table is read and checked (trainlab.phases: the refits take minutes on a large table)."""
    from trainlab.analysis.scaling import fit_with_intervals

    for flag, value in (("--bootstrap", resamples), ("--exclude-top", exclude_top)):
        if value < 0:
            raise TrainlabError(f"{flag}: must be 0 or more (got {value})")
    table, notes = read_table(path, n, loss, d, c)
    if exclude_top:
        table = table.sort_values("loss").iloc[:-exclude_top]
        notes.append(f"the {exclude_top} runs of highest loss left out")
    if len(table) < 6:
        raise TrainlabError(f"{path}: {len(table)} usable runs; the fit has 5 parameters and needs at least 6")
    sizes, tokens = table["N"].nunique(), table["D"].nunique()
    if min(sizes, tokens) < 3:  # one term's exponent cannot be told apart from the constant otherwise
        raise TrainlabError(
            f"{path}: the runs have {sizes} distinct model sizes and {tokens} distinct token counts; "
            "the fit needs at least 3 of each"
        )
    refits = f", then {resamples} bootstrap refits for 95 % intervals (--bootstrap 0 skips them)"
    with phase(f"fitting {len(table)} runs{refits if resamples else ''}", at_once=True):  # refits take minutes
        fit, intervals = fit_with_intervals(table["N"], table["D"], table["loss"], resamples, seed)
    if not fit.converged:
        notes.append(f"L-BFGS did not converge: {fit.message}")
    return ScalingFit(fit, len(table), intervals, tuple(notes))
