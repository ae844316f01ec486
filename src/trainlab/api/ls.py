"""`trainlab ls`: one line per run of the store (or of one study)."""

from __future__ import annotations

import pandas as pd

from trainlab.analysis.summary import summarize_runs
from trainlab.errors import TrainlabError
from trainlab.store import Store


def run_summaries(store: Store, study: str | None = None) -> pd.DataFrame:
    """One row per (study, experiment, seed): status, relation to a parent run, best valid metric,
    seconds per epoch, parameters."""
    runs = store.runs(study)
    if runs.empty:
        if study is not None and study not in store.study_names():
            raise TrainlabError(
                f"--study {study}: not in the store; studies: {', '.join(store.study_names()) or 'none'}"
            )
        return runs
    return summarize_runs(runs, store.metrics(runs["id"].unique()))
