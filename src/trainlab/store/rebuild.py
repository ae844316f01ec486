"""Runs whose folders hold work that store.sqlite has no record of (the file replaced by an empty one, or
restored from an older copy), and the way back: each run's records rebuilt from its folder's event log
(`runs/<id>/events.jsonl`, the events the writer applied for it, in order), where it has one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trainlab.store.db import EVENT_LOG, RUN_ID, Store
from trainlab.store.events import from_json
from trainlab.store.writer import StoreWriter

WORK = ("last.pt", "last.prev.pt", EVENT_LOG)  # what a run leaves once it has recorded its start (init.pt: before)


def lost_runs(store: Store, run_ids: Sequence[str]) -> list[str]:
    """The runs among `run_ids` that have work in their folders but no record in the store."""
    folder = store.root / "runs"
    return [
        rid
        for rid in run_ids
        if RUN_ID.fullmatch(rid) and any((folder / rid / name).exists() for name in WORK) and store.run_row(rid) is None
    ]


def rebuild(store: Store, run_id: str) -> bool:
    """Replay the run's event log into the store (without logging it again); False when it has none. A line
    cut short (a crash while appending) is skipped."""
    log = store.root / "runs" / run_id / EVENT_LOG
    if not log.exists():
        return False
    apply = StoreWriter(store, log=False)
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            event = from_json(line)
        except ValueError:
            continue
        apply(event)
    return store.run_row(run_id) is not None


def set_aside(store: Store, run_id: str) -> Path:
    """Move a lost run's folder out of the way (runs/<id>.lost, numbered if taken) so it trains again from
    nothing; its files are kept."""
    folder = store.root / "runs" / run_id
    target, n = folder.with_name(f"{run_id}.lost"), 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{run_id}.lost{n}")
    folder.rename(target)
    return target
