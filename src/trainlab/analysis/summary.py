"""Per-run summaries from stored records (pandas only): what `ls`, `show` and the report tables print."""

from __future__ import annotations

import pandas as pd

from trainlab.analysis.curves import series_rows


def metric_at(metrics: pd.DataFrame, split: str, name: str) -> pd.DataFrame:
    """Wide table (epoch rows x run columns) of one metric."""
    rows = metrics[(metrics["split"] == split) & (metrics["name"] == name)]
    return rows.pivot_table(index="epoch", columns="run_id", values="value", aggfunc="last")


def summarize_runs(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per run: status, epochs, best valid metric and epoch, train/valid/test metric at it,
    mean train and eval seconds per epoch and throughput, parameters, peak memory."""
    out = runs.copy()
    if out.empty:
        return out
    by_run = metrics.groupby(["run_id", "split", "name"])["value"]
    means = by_run.mean()
    maxes = by_run.max()
    at_epoch = series_rows(metrics).set_index(["run_id", "split", "name", "epoch"])["value"]

    def lookup(series: pd.Series, *key: object) -> float:
        return float(series.get(key, float("nan")))

    for split in ("train", "valid"):
        out[f"{split}_metric"] = [lookup(at_epoch, r.id, split, r.main_metric, r.best_epoch) for r in out.itertuples()]
    steps = metrics.set_index(["run_id", "split", "epoch"])["step"]
    steps = steps[~steps.index.duplicated(keep="last")]
    out["best_step"] = [lookup(steps, r.id, "valid", r.best_epoch) for r in out.itertuples()]
    out["test_metric"] = [lookup(at_epoch, r.id, "test", r.main_metric, r.best_epoch) for r in out.itertuples()]
    out["train_s_per_epoch"] = [lookup(means, r.id, "train", "seconds") for r in out.itertuples()]
    out["eval_s_per_epoch"] = [lookup(means, r.id, "valid", "seconds") for r in out.itertuples()]
    for throughput in ("samples_per_s", "tokens_per_s"):
        out[throughput] = [lookup(means, r.id, "train", throughput) for r in out.itertuples()]
        out[f"eval_{throughput}"] = [lookup(means, r.id, "valid", throughput) for r in out.itertuples()]
    out["flops"] = [lookup(maxes, r.id, "train", "flops") for r in out.itertuples()]
    for mem in ("peak_rss_mb", "peak_allocated_mb", "peak_reserved_mb", "nvml_used_mb"):
        out[mem] = [lookup(maxes, r.id, "train", mem) for r in out.itertuples()]
    return out
