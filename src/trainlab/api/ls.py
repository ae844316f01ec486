"""`trainlab ls`: one line per run of the store (or of one study)."""

from __future__ import annotations

import pandas as pd

from trainlab.analysis.summary import summarize_runs
from trainlab.errors import TrainlabError
from trainlab.store import DONE_STATUSES, Store
from trainlab.store.claims import STALE_S


def run_summaries(store: Store, study: str | None = None) -> pd.DataFrame:
    """One row per (study, experiment, seed): status (running, with `held_by` its host and pid, while a live
    process trains it), relation to a parent run, best valid metric, seconds per epoch, parameters."""
    runs = store.runs(study)
    if runs.empty:
        if study is not None and study not in store.study_names():
            raise TrainlabError(
                f"--study {study}: not in the store; studies: {', '.join(store.study_names()) or 'none'}"
            )
        return runs
    held = store.holders(STALE_S)
    training = runs["id"].isin(held) & ~runs["status"].isin(DONE_STATUSES)
    runs = runs.assign(status=runs["status"].where(~training, "running"), held_by=runs["id"].map(held))
    return summarize_runs(runs, store.metrics(runs["id"].unique()))
