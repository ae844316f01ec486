"""The store's one rule for a series (one value per round, the last recorded, in round order), applied alike
by `Store.series` (the dashboard) and `analysis.curves.Curves` (the report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainlab.analysis.curves import Curves
from trainlab.store import Store, StoreWriter
from trainlab.store.events import EpochEnded, RunStarted
from trainlab.store.series import last_per_round


def test_the_last_row_of_each_round_wins_in_round_order() -> None:
    """Rows of two series interleaved, round 2 of series 0 written twice (a resumed run): three rounds of
    series 0 in order, its second round from the later row; series 1 after it."""
    series = np.array([0, 1, 0, 0, 0, 1])
    epoch = np.array([2, 1, 1, 2, 3, 2])
    assert last_per_round(series, epoch).tolist() == [2, 3, 4, 1, 5]
    assert last_per_round(np.zeros(0), np.zeros(0)).tolist() == []


def test_the_dashboard_and_the_report_read_the_same_series(tmp_path: Path) -> None:
    """A run that logged round 2 twice and its rounds out of order: both readers give rounds 1, 2, 3 with
    round 2's later value."""
    store = Store(tmp_path / "store")
    write = StoreWriter(store)
    write(RunStarted("a1a1a1", {"optim": {"name": "sgd"}}, "loss", {"total": 1, "trainable": 1}, "cpu", 0))
    rows = (
        (20, 2, "valid", "loss", 0.9, 2.0),
        (10, 1, "valid", "loss", 1.0, 1.0),
        (20, 2, "valid", "loss", 0.8, 2.5),
        (30, 3, "valid", "loss", 0.7, 3.0),
    )
    write(EpochEnded("a1a1a1", rows, {"status": "partial", "epochs_done": 3}))
    served = store.series("valid", "loss", ["a1a1a1"])["a1a1a1"]
    assert served.epoch.tolist() == [1, 2, 3] and served.value.tolist() == [1.0, 0.8, 0.7]
    assert served.step.tolist() == [10, 20, 30] and served.wall_s.tolist() == [1.0, 2.5, 3.0]
    reported = Curves(store.metrics(["a1a1a1"]))("a1a1a1", "valid", "loss", "epoch")
    assert reported.index.tolist() == [1, 2, 3] and reported.tolist() == [1.0, 0.8, 0.7]
