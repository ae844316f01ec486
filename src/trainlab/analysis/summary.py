"""Per-run summaries from stored records (pandas only): what `ls`, `show` and the report tables print."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainlab.analysis.curves import Curves

THROUGHPUTS = ("samples_per_s", "tokens_per_s")
MEMORY = ("peak_rss_mb", "peak_allocated_mb", "peak_reserved_mb", "nvml_used_mb")


def summarize_runs(runs: pd.DataFrame, metrics: pd.DataFrame, curves: Curves | None = None) -> pd.DataFrame:
    """One row per run: status, epochs, best valid metric and epoch, train/valid/test metric at it,
    mean train and eval seconds per epoch and throughput (means over rounds), parameters, peak memory.
    `curves`: the metrics' Curves when the caller has them (a report): read per run, no pass over every row."""
    out = runs.copy()
    if out.empty:
        return out
    curves = curves if curves is not None else Curves(metrics)
    rows = [_summary(curves, r.id, r.main_metric, r.best_epoch) for r in out.itertuples()]
    for column in rows[0]:
        out[column] = np.array([row[column] for row in rows], dtype=float)
    return out


def _summary(curves: Curves, run_id: str, main: str, best_epoch: float) -> dict[str, float]:
    def mean(split: str, name: str) -> float:
        values = curves.values(run_id, split, name)
        return float(values.mean()) if len(values) else math.nan

    def peak(name: str) -> float:
        values = curves.values(run_id, "train", name)
        return float(values.max()) if len(values) else math.nan

    return {
        "train_metric": curves.value_at(run_id, "train", main, best_epoch),
        "valid_metric": curves.value_at(run_id, "valid", main, best_epoch),
        "best_step": curves.value_at(run_id, "valid", main, best_epoch, "step"),  # the step of the best evaluation
        "test_metric": curves.value_at(run_id, "test", main, best_epoch),
        "train_s_per_epoch": mean("train", "seconds"),
        "eval_s_per_epoch": mean("valid", "seconds"),
        **{t: mean("train", t) for t in THROUGHPUTS},
        **{f"eval_{t}": mean("valid", t) for t in THROUGHPUTS},
        "flops": peak("flops"),
        **{m: peak(m) for m in MEMORY},
    }
