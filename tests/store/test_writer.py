"""Training speaks to the store only through events: replayed into an empty store, a study's events
rebuild every table, and an epoch's rows are committed before its checkpoint replaces the last one."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import write_study
from trainlab.api import run_study
from trainlab.execution import driver
from trainlab.store import Store, StoreWriter
from trainlab.store.events import EpochEnded, Event

TIMESTAMPS = ["created_at", "updated_at"]


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name != 'claims'")]
        return {
            n: pd.read_sql_query(f"SELECT * FROM {n} ORDER BY 1, 2, 3", con).drop(columns=TIMESTAMPS, errors="ignore")
            for n in names
        }


def test_replaying_the_events_rebuilds_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row of every table (timestamps aside) comes from an event: the stream carries it all."""
    events: list[Event] = []
    write = driver.Sink.__call__
    monkeypatch.setattr(driver.Sink, "__call__", lambda self, e: (events.append(e), write(self, e))[1])
    run_study(write_study(tmp_path, runs=[{}, {"optim.name": "adam"}], seeds=[0, 1]))
    assert len(events) > 20
    replayed = Store(tmp_path / "replayed")
    for event in events:
        StoreWriter(replayed)(event)
    original, rebuilt = _tables(tmp_path / "store" / "store.sqlite"), _tables(replayed.path)
    assert original.keys() == rebuilt.keys() and all(len(t) for t in original.values())
    for name in original:
        pd.testing.assert_frame_equal(original[name], rebuilt[name], check_exact=True)


def test_an_epochs_rows_are_committed_before_its_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the writer applies epoch k, last.pt still holds epoch k-1 (so a crash in between resumes
    from k-1 and drops the rows of k)."""
    seen: list[tuple[int, int]] = []
    write = driver.Sink.__call__

    def check_then_write(self, event: Event) -> None:  # noqa: ANN001
        if isinstance(event, EpochEnded):
            last = next((tmp_path / "store" / "runs").iterdir()) / "last.pt"
            saved = torch.load(last, weights_only=False)["loop"]["epoch"] if last.exists() else 0
            seen.append((event.progress["epochs_done"], saved))
        write(self, event)

    monkeypatch.setattr(driver.Sink, "__call__", check_then_write)
    run_study(write_study(tmp_path))
    assert seen == [(1, 0), (2, 1), (3, 2)]


def test_an_event_the_writer_does_not_know_is_a_bug(tmp_path: Path) -> None:
    """Anything but a store event is refused loudly."""
    with pytest.raises(TypeError, match="not a store event"):
        StoreWriter(Store(tmp_path / "s"))(replace)  # type: ignore[arg-type]
