"""`trainlab run`: every unit of a study not done yet, validated before any work starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from trainlab.api.common import as_study, store_if_present, store_root
from trainlab.errors import TrainlabError
from trainlab.execution.driver import Sink, execute
from trainlab.execution.packing import PackSetting
from trainlab.execution.parallel import ParallelDriver, check_executor, make_executor
from trainlab.execution.progress import PLAIN_EVERY_S
from trainlab.execution.units import Context, Outcome, Unit
from trainlab.spec import StudySpec
from trainlab.store import DONE_STATUSES, Store
from trainlab.store.claims import STALE_S
from trainlab.store.db import EVENT_LOG
from trainlab.store.rebuild import lost_runs, rebuild, set_aside
from trainlab.studies.kind import kind_of
from trainlab.train.build import DataCache, resolve_device


def run_study(
    study: StudySpec | str | Path,
    overrides: Mapping[str, Any] | None = None,
    only: Sequence[int] | None = None,
    store: str | Path | None = None,
    device: str = "auto",
    console: Console | None = None,
    project_dir: Path | None = None,
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
    resources: str | None = None,
    retries: int = 2,
    retrain_lost: bool = False,
    command: str | None = None,
    pack: str | int = "auto",
    progress_every: float = PLAIN_EVERY_S,
) -> list[Outcome]:
    """Run every unit of the study not yet done; every error in the study, its data or its models
    surfaces before the store is touched. `workers` > 1 trains that many units at once in worker
    processes; `executor="ray"` runs each unit as a Ray task (`address`: auto, HOST:PORT or ray://HOST:PORT;
    `resources`: JSON of what each run asks, e.g. '{"GPU": 1}'); a unit whose worker dies is retried from
    its last checkpoint up to `retries` times. Runs whose folders hold work the store has no record of are
    rebuilt from their event logs; those without one stop the study, or train again with `retrain_lost`.
    `pack`: auto, off or N - runs of one model shape train together in one process, N at most
    (trainlab.execution.packing); with workers or Ray a pack is one worker's job. Progress and
    notes go to `console` (None: none), with a plain line inside an epoch every `progress_every` seconds when
    it is not a terminal."""
    check_executor(executor, workers, retries)
    if progress_every < 0:
        raise TrainlabError(f"--progress-every: must be 0 or more seconds (got {progress_every:g})")
    packing = PackSetting.parse(pack)
    if isinstance(study, (str, Path)) and project_dir is None:
        project_dir = Path(study).resolve().parent
    study = as_study(study)
    kind = kind_of(study)
    dev = resolve_device(device)
    root = store_root(study, store)
    with store_if_present(root) as existing:
        units = kind.plan(study, overrides or {}, only, existing)
        planned = kind.plan(study, overrides or {}, None, existing) if only else units  # the study's members
        pending = [u for u in units if existing is None or kind.status(u, existing) not in DONE_STATUSES]
    data = DataCache()
    notes = kind.preflight(pending, dev, data)
    for note in notes if console else []:
        console.print(f"[yellow]note:[/yellow] {note}")
    pool = make_executor(executor, workers, dev, address, resources, root)  # a cluster out of reach fails here
    db = Store(root)
    try:
        _recover_lost(db, units, retrain_lost, console)
        ctx = Context(
            root,
            Sink(db, console),
            dev,
            data,
            project_dir,
            console=console,
            command=command or "",
            pack=packing,
            progress_every=progress_every,
        )
        as_run = {"set": dict(overrides or {}), "only": list(only) if only else None, "command": command}
        if pool is None:
            return execute(kind, study, units, db, ctx, planned=planned, as_run=as_run)
        driver = partial(ParallelDriver, executor=pool, retries=retries)
        return execute(kind, study, units, db, ctx, driver, exclusive=True, planned=planned, as_run=as_run)
    finally:
        if pool is not None:
            pool.close(interrupted=False)  # idempotent; the driver has already closed it unless it never started
        db.close()


def _recover_lost(db: Store, units: Sequence[Unit], retrain: bool, console: Console | None) -> None:
    """A store that lost the records of runs whose folders hold work (store.sqlite emptied or replaced by an
    older copy) must not call them done from their checkpoints: rebuild their records from their event logs;
    for runs without one, stop, or set their folders aside and train them again with `retrain`."""
    held = db.running(STALE_S)  # another driver's run that has not recorded its start yet is not lost
    lost = [r for r in lost_runs(db, [u.id for u in units]) if r not in held]
    rebuilt = [r for r in lost if rebuild(db, r)]
    missing = [r for r in lost if r not in rebuilt]
    if rebuilt and console:
        console.print(
            f"[yellow]note:[/yellow] {db.path} had no record of {len(rebuilt)} run(s) with work in their "
            f"folders; their records were rebuilt from runs/<id>/{EVENT_LOG}",
            soft_wrap=True,
        )
    if missing and not retrain:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise TrainlabError(
            f"store {db.root}: {len(missing)} run(s) ({shown}) have checkpoints in their folders but no record in "
            f"{db.path.name} (was it replaced or emptied?) and no {EVENT_LOG} to rebuild one from; restore "
            f"{db.path.name} from a copy, or rerun with --retrain-lost to train them again (their folders are "
            "kept as runs/<id>.lost)"
        )
    for run_id in missing:
        kept = set_aside(db, run_id)
        if console:
            console.print(
                f"[yellow]note:[/yellow] run {run_id}: no record of it; its folder is kept as {kept}, and it "
                "trains again",
                soft_wrap=True,
            )
