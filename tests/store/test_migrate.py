"""Store format 2 (series in packed chunks) and the upgrade from format 1: a store written by trainlab before the
change (tests/store/fixtures/format1.sqlite, written by commit ed3df10: a made-up sweep of 16 runs and a
tracked run that logs per step, a NaN, a step twice and test values) is upgraded in place on first open, with
a backup, and every run id and every value is found where it was; a read-only open says how to upgrade; a
store from a newer trainlab is refused; resuming drops exactly the rows after the resumed epoch."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlab.errors import TrainlabError
from trainlab.store import Store
from trainlab.store.migrate import BACKUP, FORMAT

FIXTURE = Path(__file__).parent / "fixtures" / "format1.sqlite"
KEY = ["run_id", "split", "name"]


def format1(tmp_path: Path) -> Path:
    shutil.copyfile(FIXTURE, tmp_path / "store.sqlite")
    return tmp_path


def raw(path: Path, query: str) -> pd.DataFrame:
    """What the file holds, read with sqlite3 alone (not through the store)."""
    with sqlite3.connect(path) as db:
        return pd.read_sql_query(query, db)


def test_a_format1_store_is_upgraded_in_place_with_every_value_and_id(tmp_path: Path) -> None:
    root = format1(tmp_path)
    before = raw(root / "store.sqlite", "SELECT * FROM metrics ORDER BY rowid")
    runs_before = raw(root / "store.sqlite", "SELECT * FROM runs ORDER BY id")
    assert len(before) == 531 and before["value"].isna().sum() == 1  # the fixture is what this test says
    store = Store(root)
    after = store.metrics()
    runs_after = store.runs()
    store.close()
    assert sorted(runs_after["id"].unique()) == runs_before["id"].tolist()
    # each series' rows in the order they were recorded: compare series by series
    before["order"] = before.groupby(KEY).cumcount()
    after["order"] = after.groupby(KEY).cumcount()
    merged = before.merge(after, on=[*KEY, "order"], suffixes=("_1", "_2"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == 531
    for column in ("step", "epoch", "wall_s"):
        assert (merged[f"{column}_1"] == merged[f"{column}_2"]).all(), column
    assert np.array_equal(merged["value_1"], merged["value_2"], equal_nan=True)
    assert (root / BACKUP).exists() and raw(root / BACKUP, "SELECT count(*) AS n FROM metrics")["n"][0] == 531
    assert raw(root / "store.sqlite", "PRAGMA user_version").iloc[0, 0] == FORMAT
    tables = set(raw(root / "store.sqlite", "SELECT name FROM sqlite_master WHERE type = 'table'")["name"])
    assert "metrics" not in tables and {"series", "points"} <= tables


def test_a_read_only_open_of_a_format1_store_says_how_to_upgrade(tmp_path: Path) -> None:
    root = format1(tmp_path)
    with pytest.raises(TrainlabError, match="format 1.*trainlab ls --store"):
        Store(root, read_only=True)


def test_a_store_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with sqlite3.connect(tmp_path / "store.sqlite") as db:
        db.execute(f"PRAGMA user_version = {FORMAT + 1}")
    for read_only in (False, True):
        with pytest.raises(TrainlabError, match=f"format {FORMAT + 1}, newer than this trainlab"):
            Store(tmp_path, read_only=read_only)


def test_chunks_hold_long_series_and_a_resume_drops_only_later_rounds(tmp_path: Path) -> None:
    """3,000 rounds (three chunks) appended a round at a time and in one go, then resumed from round 1,500:
    the rows up to it stay, in order, the test rows go, and appending continues after them."""
    store = Store(tmp_path)
    store.start_run("a" * 12, {}, "loss", {"total": 1, "trainable": 1}, "cpu", 0, {}, None, None)
    for epoch in range(1, 1001):
        store.record_epoch("a" * 12, [(epoch * 10, epoch, "valid", "loss", 1.0 / epoch, epoch * 0.5)], {})
    store.record_epoch("a" * 12, [(e * 10, e, "valid", "loss", 1.0 / e, e * 0.5) for e in range(1001, 3001)], {})
    store.end_run("a" * 12, "done", [(30000, 3000, "test", "loss", 0.1, 0.0)], {})
    m = store.metrics(["a" * 12])
    assert m[m.split == "valid"]["epoch"].tolist() == list(range(1, 3001)) and (m.split == "test").sum() == 1
    store.start_run("a" * 12, {}, "loss", {"total": 1, "trainable": 1}, "cpu", 1500, {}, None, None)
    store.record_epoch("a" * 12, [(15010, 1501, "valid", "loss", 9.0, 1.0)], {})
    m = store.metrics(["a" * 12])
    assert m["epoch"].tolist() == list(range(1, 1502)) and m["value"].iloc[-1] == 9.0 and set(m.split) == {"valid"}
    assert store.series("valid", "loss", ["a" * 12])["a" * 12].value[-2] == pytest.approx(1 / 1500)
    store.close()
