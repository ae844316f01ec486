"""What every command shares: the study from a path, where its store is, opening it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.spec import StudySpec
from trainlab.store import Store
from trainlab.studies.catalog import load_study

DEFAULT_STORE = "trainlab-store"


def as_study(study: StudySpec | str | Path) -> StudySpec:
    return study if isinstance(study, StudySpec) else load_study(study)


def store_root(study: StudySpec, store: str | Path | None) -> Path:
    """--store wins, then the study's `store:`, then ./trainlab-store."""
    return Path(store or study.store or DEFAULT_STORE)


@contextmanager
def store_if_present(root: Path) -> Iterator[Store | None]:
    """The store at `root` if one exists, to read, closed afterwards; never creates one (check and
    preflight write nothing)."""
    store = _for_reading(root) if (root / "store.sqlite").exists() else None
    try:
        yield store
    finally:
        if store:
            store.close()


def open_existing(root: str | Path, first: str = "run `trainlab run STUDY` first", write: bool = False) -> Store:
    """The store at `root`; to read (ls, show, report), also where it cannot be written (a read-only
    medium), or to `write`."""
    if not (Path(root) / "store.sqlite").exists():
        raise TrainlabError(f"store {root}: no store here; {first} or pass --store DIR")
    return Store(root) if write else _for_reading(Path(root))


def _for_reading(root: Path) -> Store:
    """As usual where the store can be written (so an older store gains its new columns), else read-only."""
    writable = os.access(root, os.W_OK) and os.access(root / "store.sqlite", os.W_OK)
    return Store(root, read_only=not writable)


def unique_run(store: Store, prefix: str) -> str:
    """The one run whose id starts with `prefix`."""
    matches = [i for i in store.run_ids() if i.startswith(prefix)]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs ({', '.join(matches[:5])})"
        raise TrainlabError(f"run {prefix}: {what} with that id prefix in {store.root}")
    return matches[0]


def recorded_run(run: Any, store: str | Path | None, who: str) -> tuple[Store, str] | None:
    """The store (open, to write) and run an analysis from Python records its files with: a tracked run, or a
    run id (prefix) in `store`; None for neither."""
    if run is None:
        return None
    if isinstance(run, str):
        if store is None:
            raise TrainlabError(f"{who}: run given by id needs store= (the store it is in)")
        db = open_existing(store, write=True)
        try:
            return db, unique_run(db, run)
        except TrainlabError:
            db.close()
            raise
    db = Store(run.store.root)  # a tracked run: its block may have closed its own connection
    if db.run_row(run.id) is None:
        db.close()
        raise TrainlabError(f"{who}: run {run.id} is not in store {db.root}; record with it inside its `with` block")
    return db, run.id
