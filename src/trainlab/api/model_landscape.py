"""`trainlab.landscape`: the loss surface around any `nn.Module`, from Python (Li et al. 2018).

    surface = trainlab.landscape(model, loss_fn, batches, grid=21, run=run)

The same computation `trainlab landscape RUN` does for a stored run, on the user's own model, loss and
batches: filter-normalised random directions (or toward the initial weights, or the principal directions
of a trajectory), the grid's metrics, the trajectory projected on the plane. Given a tracked run (or a store
and a run id), the files go to that run's folder and the store records them, so its study's report draws
the landscape; given `out`, they go there; given neither, nothing is written.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import ValidationError
from torch import nn

from trainlab.api.common import recorded_run
from trainlab.errors import TrainlabError
from trainlab.spec.study import format_validation_error
from trainlab.store import Store, StoreWriter
from trainlab.store.events import ArtifactSaved
from trainlab.studies.landscape.compute import compute_in
from trainlab.studies.landscape.section import LandscapeSpec
from trainlab.weightspace import Surface, batch_metrics

if TYPE_CHECKING:
    from trainlab.api.track import TrackedRun

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Landscape:
    """A computed landscape: the surface (metric -> values over ys × xs), the trajectory's (step, x, y)
    rows, and the folder its files are in (None when nothing was written)."""

    surface: Surface
    trajectory: list[tuple[int, float, float]]
    folder: Path | None


def landscape(
    model: nn.Module,
    loss_fn: LossFn | None,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    dirs: str = "random",
    init: Mapping[str, torch.Tensor] | None = None,
    trajectory: Sequence[Mapping[str, torch.Tensor]] = (),
    grid: int = 21,
    range: tuple[float, float] = (-1.0, 1.0),  # noqa: A002 - the name of the CLI's flag and the spec's field
    mode: str = "weights",
    seed: int = 0,
    run: TrackedRun | str | None = None,
    store: str | Path | None = None,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Landscape:
    """Metrics of `model` at w + x·d1 + y·d2 over a grid × grid plane of [range]², its weights restored after.

    `loss_fn(outputs, targets)` gives a batch's mean loss; None reads the outputs as class scores (loss,
    accuracy, perplexity). `dirs`: random, init (toward the `init` state dict, e.g. the weights before
    training) or pca (of the `trajectory` states, three or more). The `trajectory` states (e.g. one per
    epoch) are projected on the plane. `run`: a tracked run, or a run id in `store`, to record it with.
    """
    try:
        spec = LandscapeSpec(
            dirs=dirs, grid=grid, range=range, mode=mode, seed=seed, metrics=("loss", "accuracy", "perplexity")
        )
    except ValidationError as err:
        raise TrainlabError(format_validation_error(err, "landscape: ")) from None
    if dirs == "init" and init is None:
        raise TrainlabError("landscape: dirs 'init' needs init= (the state dict the model started from)")
    evaluate = batch_metrics(_checked(batches), loss_fn=loss_fn)
    states = {i + 1: _weights_of(model, s) for i, s in enumerate(trajectory)}

    def compute(folder: Path) -> None:
        compute_in(folder, model, evaluate, spec, lambda: _weights_of(model, init), states, progress=progress)

    recorded = recorded_run(run, store, "landscape")
    if recorded is not None:
        db, run_id = recorded
        try:
            folder = db.run_dir(run_id) / "landscape" / spec.key()
            compute(folder)
            _record(db, run_id, folder)
        finally:
            db.close()
        return _read(folder, folder)
    if out is not None:
        folder = Path(out) / spec.key()
        compute(folder)
        return _read(folder, folder)
    with tempfile.TemporaryDirectory(prefix="trainlab-landscape-") as scratch:
        compute(Path(scratch))
        return _read(Path(scratch), None)


def _checked(batches: Iterable[Any]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    chosen = list(batches)
    if not chosen:
        raise TrainlabError("landscape: batches is empty; give a few (inputs, targets) batches to evaluate on")
    if not all(isinstance(b, (tuple, list)) and len(b) == 2 for b in chosen):
        raise TrainlabError("landscape: each batch must be an (inputs, targets) pair")
    return [tuple(b) for b in chosen]


def _weights_of(model: nn.Module, state: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The parameters' entries of a state dict (a whole checkpoint's `model` entry works too)."""
    state = state.get("model", state) if state is not None else {}
    params = dict(model.named_parameters())
    missing = [n for n in params if n not in state]
    if missing:
        raise TrainlabError(f"landscape: a state dict given has no {missing[0]!r}; pass model.state_dict() copies")
    return {n: state[n].to(params[n].device, params[n].dtype) for n in params}


def _record(db: Store, run_id: str, folder: Path) -> None:
    from trainlab.report.landscape import render

    render(folder)
    meta = json.loads((folder / "spec.json").read_text())
    StoreWriter(db)(ArtifactSaved(run_id, "landscape", str(folder.relative_to(db.root)), meta))


def _read(folder: Path, kept: Path | None) -> Landscape:
    from trainlab.report.landscape import load

    _, frames, rows = load(folder)
    frame = frames[None]
    values = {k: v for k, v in frame.items() if k not in ("xs", "ys")}
    trajectory = [(int(e), float(x), float(y)) for e, x, y in rows]
    return Landscape(Surface(frame["xs"], frame["ys"], values), trajectory, kept)
