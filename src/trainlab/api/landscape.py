"""`trainlab landscape RUN`: loss surfaces around one stored run (Li et al. 2018)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from trainlab.api.common import open_existing, unique_run
from trainlab.store import StoreWriter
from trainlab.studies.landscape.compute import landscape as compute_and_render
from trainlab.studies.landscape.section import LandscapeSpec
from trainlab.train.build import resolve_device


def landscape(
    store_dir: str | Path, run: str, spec: LandscapeSpec, device: str = "auto", console: Console | None = None
) -> list[Path]:
    """Compute (or continue) a run's loss landscape and render its figures; returns the files written."""
    db = open_existing(store_dir, write=True)  # the landscape is recorded as an artifact
    try:
        run_id = unique_run(db, run)
        with Progress(console=console, disable=console is None) as bar:
            task = bar.add_task(f"landscape {run_id[:8]}", total=None)
            return compute_and_render(
                db,
                run_id,
                spec,
                resolve_device(device),
                StoreWriter(db),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        db.close()
