"""Per-run summaries from stored records (pandas only): what `ls`, `show` and the report tables print."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainlab.analysis.curves import series_rows


def metric_at(metrics: pd.DataFrame, split: str, name: str) -> pd.DataFrame:
    """Wide table (epoch rows x run columns) of one metric."""
    rows = metrics[(metrics["split"] == split) & (metrics["name"] == name)]
    return rows.pivot_table(index="epoch", columns="run_id", values="value", aggfunc="last", observed=True)


THROUGHPUTS = ("samples_per_s", "tokens_per_s")
MEMORY = ("peak_rss_mb", "peak_allocated_mb", "peak_reserved_mb", "nvml_used_mb")
AVERAGED = ("seconds", *THROUGHPUTS, "flops", *MEMORY)  # the metrics whose mean or maximum the summary gives


def summarize_runs(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per run: status, epochs, best valid metric and epoch, train/valid/test metric at it,
    mean train and eval seconds per epoch and throughput, parameters, peak memory."""
    out = runs.copy()
    if out.empty:
        return out
    averaged = metrics[metrics["name"].isin(AVERAGED)]  # the few metrics summarised: grouping them alone is fast
    by_run = averaged.groupby(["run_id", "split", "name"], observed=True)["value"]
    means = by_run.mean()
    maxes = by_run.max()
    rows = series_rows(metrics).set_index(["run_id", "split", "name", "epoch"])
    at_epoch = rows["value"]
    ids, n = out["id"].to_numpy(), len(out)

    def lookup(series: pd.Series, *key: object) -> np.ndarray:
        """series[(key...)] for every run at once (NaN where absent): one index lookup, not one per run."""
        columns = [k if isinstance(k, np.ndarray | pd.Series) else np.full(n, k, dtype=object) for k in key]
        return series.reindex(pd.MultiIndex.from_arrays(columns)).to_numpy(dtype=float)

    main, best_epoch = out["main_metric"].to_numpy(), out["best_epoch"].to_numpy()
    for split in ("train", "valid"):
        out[f"{split}_metric"] = lookup(at_epoch, ids, split, main, best_epoch)
    out["best_step"] = lookup(rows["step"], ids, "valid", main, best_epoch)  # the step of the best evaluation
    out["test_metric"] = lookup(at_epoch, ids, "test", main, best_epoch)
    out["train_s_per_epoch"] = lookup(means, ids, "train", "seconds")
    out["eval_s_per_epoch"] = lookup(means, ids, "valid", "seconds")
    for throughput in THROUGHPUTS:
        out[throughput] = lookup(means, ids, "train", throughput)
        out[f"eval_{throughput}"] = lookup(means, ids, "valid", throughput)
    out["flops"] = lookup(maxes, ids, "train", "flops")
    for mem in MEMORY:
        out[mem] = lookup(maxes, ids, "train", mem)
    return out
