"""`trainlab export STUDY --format tensorboard|csv|parquet DIR`: a study's curves out of the store.

csv and parquet write two tables: `metrics` (one row per stored value: run, experiment, seed, label, split,
name, epoch, step, value, wall seconds) and `runs` (the runs table with every config key, as `trainlab ls`
lists them); tensorboard writes a folder of scalar events per run (trainlab.api.tensorboard). Every format
also copies each computed landscape's CSV (x, y, one column per metric, epoch; the layout the dashboard's
landscape viewer reads) to `landscapes/<run>-<key>.csv`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from trainlab.api.report import open_study
from trainlab.errors import TrainlabError
from trainlab.files import write_atomic, write_text_atomic
from trainlab.spec import StudySpec
from trainlab.store import Store

FORMATS = ("tensorboard", "csv", "parquet")


def export_study(
    study: StudySpec | str | Path, out: str | Path, fmt: str, store: str | Path | None = None
) -> list[Path]:
    """Write the study's curves to `out` in `fmt`; returns the files and folders written."""
    if fmt not in FORMATS:
        raise TrainlabError(f"export --format {fmt!r}: choose {', '.join(FORMATS)}")
    db, name, _ = open_study(study, store)
    try:
        runs = db.runs(name)
        if runs.empty:
            raise TrainlabError(f"export: study {name!r} has no runs in {db.root}")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if fmt == "tensorboard":
            from trainlab.api.tensorboard import export_tensorboard

            written = export_tensorboard(db, runs.to_dict(orient="records"), out)
        else:
            written = _tables(db, runs, out / name, fmt)
        return written + _landscapes(db, list(runs["id"]), out / "landscapes")
    finally:
        db.close()


def _tables(db: Store, runs: Any, stem: Path, fmt: str) -> list[Path]:
    who = runs[["id", "experiment", "seed", "label"]].rename(columns={"id": "run_id"})
    metrics = who.merge(db.metrics(list(runs["id"])), on="run_id")
    metrics = metrics[["run_id", "experiment", "seed", "label", "split", "name", "epoch", "step", "value", "wall_s"]]
    written = []
    for table, suffix in ((metrics, "metrics"), (runs, "runs")):
        path = stem.with_name(f"{stem.name}_{suffix}.{fmt}")
        _save(table, path, fmt)
        written.append(path)
    return written


def _save(table: Any, path: Path, fmt: str) -> None:
    if fmt == "csv":
        write_text_atomic(path, table.to_csv(index=False))
        return
    try:
        import pyarrow  # noqa: F401 - pandas writes parquet through it
    except ImportError:
        raise TrainlabError(
            "export --format parquet: pyarrow is not installed: pip install 'trainlab[parquet]'"
        ) from None
    write_atomic(path, lambda f: table.to_parquet(f, index=False))


def _landscapes(db: Store, run_ids: list[str], out: Path) -> list[Path]:
    written = []
    for run_id in run_ids:
        for artifact in db.artifacts(run_id):
            source = db.root / artifact["path"] / "landscape.csv"
            if artifact["kind"] == "landscape" and source.exists():
                out.mkdir(parents=True, exist_ok=True)
                target = out / f"{run_id}-{Path(artifact['path']).name}.csv"
                shutil.copyfile(source, target)
                written.append(target)
    return written
