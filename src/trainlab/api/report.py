"""`trainlab report`: figures, tables and one HTML page from the store, laid out by the study's kind."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from trainlab.api.common import as_study, open_existing, store_root
from trainlab.errors import TrainlabError
from trainlab.spec import StudySpec
from trainlab.spec.study import NAME_PATTERN
from trainlab.store import Store
from trainlab.studies.kind import KINDS, StudyKind, kind_of


def report_study(
    study: StudySpec | str | Path,
    store: str | Path | None = None,
    out: str | Path | None = None,
    x: str | None = None,
    group: Sequence[str] | None = None,
    include_partial: bool = False,
) -> Path:
    """Write the study's report from the store; returns the HTML path. `study` is a study file, or the name
    of a study in `store` that has none (runs recorded by trainlab.track, or imported). `x` is the axis of
    its curves, convergence table and findings: step, epoch, seen (examples or tokens), seconds or flops
    (default: step when the runs validate every `train.eval_every_steps` steps, else epoch). `group`: the
    config keys whose values group runs in the sweep figures and the best-setting table (default: the
    categorical keys the study varies, e.g. optim.name). Runs not finished are left out of the tables, figures
    and findings unless `include_partial` (the summary says which, and how far they got)."""
    from trainlab.report import write_report

    db, name, kind = open_study(study, store)
    try:
        groups = tuple(group) if group is not None else None
        folder = Path(out or Path("trainlab-report") / name)
        return write_report(db, name, folder, kind.page, x, groups, include_partial)
    finally:
        db.close()


def open_study(study: StudySpec | str | Path, store: str | Path | None) -> tuple[Store, str, StudyKind]:
    """The store (open, to read) of a study file, or of a study recorded with no file, its name and kind."""
    if _is_stored_name(study, store):
        name, root = str(study), Path(store)
        db = open_existing(root, "run or track the study first")
        try:
            return db, name, _stored_kind(db, name)
        except TrainlabError:
            db.close()
            raise
    study = as_study(study)
    return open_existing(store_root(study, store), "run `trainlab run` first"), study.name, kind_of(study)


def _is_stored_name(study: StudySpec | str | Path, store: str | Path | None) -> bool:
    """A name of a study in the store rather than a study file: no such file, no YAML suffix, and a store."""
    if isinstance(study, StudySpec) or store is None or Path(study).exists():
        return False
    return Path(study).suffix not in (".yaml", ".yml") and re.fullmatch(NAME_PATTERN, str(study)) is not None


def _stored_kind(db: Store, name: str) -> StudyKind:
    spec = db.study_spec(name)
    if spec is None:
        known = ", ".join(db.study_names()) or "none"
        raise TrainlabError(f"study {name!r}: not in store {db.root}; studies there: {known}")
    return KINDS.get(spec.get("kind", "train")).build
