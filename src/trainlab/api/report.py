"""`trainlab report`: figures, tables and one HTML page from the store, laid out by the study's kind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trainlab.api.common import as_study, open_existing, store_root
from trainlab.spec import StudySpec
from trainlab.studies.kind import kind_of


def report_study(
    study: StudySpec | str | Path,
    store: str | Path | None = None,
    out: str | Path | None = None,
    x: str | None = None,
    group: Sequence[str] | None = None,
) -> Path:
    """Write the study's report from the store; returns the HTML path. `x` is the axis of its curves,
    convergence table and findings: step, epoch, seen (examples or tokens), seconds or flops (default:
    step when the runs validate every `train.eval_every_steps` steps, else epoch). `group`: the config
    keys whose values group runs in the sweep figures and the best-setting table (default: the
    categorical keys the study varies, e.g. optim.name)."""
    from trainlab.report import write_report

    study = as_study(study)
    db = open_existing(store_root(study, store), "run `trainlab run` first")
    try:
        return write_report(
            db,
            study.name,
            Path(out or Path("trainlab-report") / study.name),
            kind_of(study).page,
            x,
            tuple(group) if group is not None else None,
        )
    finally:
        db.close()
