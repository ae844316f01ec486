"""What the dashboard's pages show, read from a read-only store: studies with their progress, a study's
runs with summaries, one run in full, and the landscapes computed for a study. Pure reads (pandas and
json over the store's own queries); nothing here writes.
"""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from trainlab.analysis.sweep import swept_keys
from trainlab.errors import TrainlabError
from trainlab.spec.study import NAME_PATTERN
from trainlab.store import Store
from trainlab.store.claims import STALE_S
from trainlab.store.db import RUN_ID

LANDSCAPE_KEY = re.compile(r"[0-9a-f]{6,64}")


def check_study_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise TrainlabError(f"study {name!r}: not a study name")
    return name


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise TrainlabError(f"run {run_id!r}: not a run id (hexadecimal hash)")
    return run_id


def _clean(value: Any) -> Any:
    """JSON-ready: NaN and infinities as null, numpy scalars as Python ones."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _running(store: Store) -> set[str]:
    """Runs claimed by a holder whose heartbeat is fresh: being trained right now."""
    return store.running(STALE_S)


def display_status(status: str, run_id: str, running: set[str]) -> str:
    return "running" if status in ("new", "partial") and run_id in running else status


def studies(store: Store) -> list[dict[str, Any]]:
    """Every study: name, description, runs by status (running where a live driver holds them), last update."""
    running = _running(store)
    out: dict[str, dict[str, Any]] = {}
    for study, rid, status, updated, spec, planned in store.study_members():
        entry = out.setdefault(
            study,
            {
                "name": study,
                "description": spec.get("description", ""),
                "kind": spec.get("kind", "train"),
                "runs": 0,
                "updated_at": planned,
                "status": {},
            },
        )
        shown = display_status(status, rid, running)
        entry["runs"] += 1
        entry["status"][shown] = entry["status"].get(shown, 0) + 1
        entry["updated_at"] = max(entry["updated_at"], updated)
    for name in store.study_names():  # planned, nothing started yet
        out.setdefault(name, {"name": name, "description": "", "kind": "", "runs": 0, "updated_at": None, "status": {}})
    return sorted(out.values(), key=lambda s: s["name"])


RUN_COLUMNS = [
    "id",
    "experiment",
    "seed",
    "label",
    "status",
    "main_metric",
    "best_value",
    "best_epoch",
    "epochs_done",
    "train_seconds",
    "params_total",
    "updated_at",
]


def study_runs(store: Store, study: str) -> pd.DataFrame:
    """The study's runs (one row per experiment and seed) with config columns, statuses as displayed."""
    runs = store.runs(check_study_name(study))
    if runs.empty:
        if study not in store.study_names():
            raise TrainlabError(f"study {study!r}: not in the store")
        return runs
    running = _running(store)
    runs["status"] = [display_status(s, i, running) for s, i in zip(runs["status"], runs["id"])]
    return runs


class StudyTables:
    """Each study's runs table (`study_runs`), read again only when the study changed: a run's update, a
    new plan, or a run starting or stopping (1,000 runs' configs take ~0.1 s to read and flatten)."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[tuple, pd.DataFrame]] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, study: str) -> pd.DataFrame:
        stamp = (*store.study_stamp(check_study_name(study)), frozenset(_running(store)))
        with self._lock:
            cached = self._tables.get(study)
            if cached is None or cached[0] != stamp:
                cached = self._tables[study] = (stamp, study_runs(store, study))
            return cached[1]


def study_page(store: Store, study: str, runs: pd.DataFrame) -> dict[str, Any]:
    """A study's table (`runs`: its runs and what varies), the metrics its runs log, and its spec."""
    spec = store.study_spec(study) or {}
    if runs.empty:
        return {"name": study, "spec": spec, "runs": [], "keys": [], "metrics": [], "main_metric": None}
    swept = swept_keys(runs)
    keys = [*swept.categorical, *swept.numeric, *swept.follows]
    table = []
    for r in runs.to_dict("records"):
        row = {c: _clean(r.get(c)) for c in RUN_COLUMNS}
        row["changes"] = r["changes"]
        row["values"] = {k: _clean(r.get(k)) for k in keys}
        table.append(row)
    names = store.metric_names(runs["id"].iloc[0], ("train", "valid"))
    return {
        "name": study,
        "spec": spec,
        "runs": table,
        "keys": keys,
        "main_metric": str(runs["main_metric"].mode().iloc[0]),
        "metrics": sorted(f"{s}/{n}" for s, n in names),
        "groups": list(swept.categorical),
    }


def run_page(store: Store, run_id: str) -> dict[str, Any]:
    """One run: its row, config, manifest, facts, every per-epoch metric, artifacts and where it comes from."""
    row = store.run_row(check_run_id(run_id))
    if row is None:
        raise TrainlabError(f"run {run_id}: not in the store")
    manifest_path = store.root / "runs" / run_id / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    metrics = store.metrics([run_id])
    wide = metrics.pivot_table(index=["epoch"], columns=["split", "name"], values="value", aggfunc="last")
    table = [
        {"epoch": int(e), **{f"{s}/{n}": _clean(v) for (s, n), v in values.items()}} for e, values in wide.iterrows()
    ]
    return {
        "run": {k: _clean(v) for k, v in row.items() if k not in ("config", "facts")},
        "config": json.loads(row["config"]),
        "facts": json.loads(row["facts"]),
        "manifest": manifest,
        "metrics": table,
        "artifacts": store.artifacts(run_id),
        "children": store.children(run_id),
    }


def landscapes(store: Store, run_ids: list[str]) -> list[dict[str, Any]]:
    """The landscapes computed for these runs: run, key (its folder), and the request that made it."""
    out = []
    for rid in run_ids:
        for a in store.artifacts(rid):
            if a["kind"] != "landscape":
                continue
            folder = landscape_folder(store, rid, Path(a["path"]).name)
            if folder is not None:
                out.append(
                    {
                        "run": rid,
                        "key": folder.name,
                        **{k: a["meta"].get(k) for k in ("dirs", "range", "grid", "checkpoint", "metrics", "epochs")},
                    }
                )
    return out


def landscape_folder(store: Store, run_id: str, key: str) -> Path | None:
    """The folder of a run's landscape, only ever inside runs/<id>/landscape/ (both names are hashes)."""
    if not LANDSCAPE_KEY.fullmatch(key):
        raise TrainlabError(f"landscape {key!r}: not a landscape key")
    folder = store.root / "runs" / check_run_id(run_id) / "landscape" / key
    computed = (folder / "spec.json").exists() and any(folder.glob("*.npz"))  # spec.json alone: stopped before a row
    return folder if computed else None
