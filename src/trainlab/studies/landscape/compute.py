"""Loss surfaces around a stored run, for `trainlab landscape RUN` and the `landscape` kind: per epoch on one
fixed basis, with the training trajectory; outputs (NPZ, CSV, figures, animation) go to
runs/<id>/landscape/<key>/.

An interrupted grid continues from the rows already saved (the NPZ is rewritten after every row).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainlab.data import DataInfo
from trainlab.data.tokens import PAD
from trainlab.errors import TrainlabError
from trainlab.files import write_atomic, write_text_atomic
from trainlab.spec import RunConfig, resolve
from trainlab.spec.dotted import flatten
from trainlab.store import Store
from trainlab.store.events import ArtifactSaved, Sink
from trainlab.studies.catalog import catalog
from trainlab.studies.landscape.section import LandscapeSpec
from trainlab.train import TASKS, checkpoint
from trainlab.train.build import DataCache, build_model
from trainlab.weightspace import (
    Surface,
    batch_metrics,
    pca_directions,
    project,
    random_direction,
    surface,
    toward,
    weights,
)


def _epoch_files(folder: Path) -> dict[int, Path]:
    files = {int(m.group(1)): p for p in folder.glob("epoch_*.pt") if (m := re.fullmatch(r"epoch_(\d+)\.pt", p.name))}
    return dict(sorted(files.items()))


def _checkpoint_path(folder: Path, which: str) -> Path:
    path = folder / checkpoint.file_name(which)
    if not path.exists():
        hint = " (train with train.keep_epoch_checkpoints: true)" if which.startswith("epoch") else ""
        raise TrainlabError(f"--checkpoint {which}: {path} does not exist{hint}")
    return path


def _batches(config: RunConfig, split: str, max_batches: int | None, device: torch.device) -> tuple[list, DataInfo]:
    """The first `max_batches` evaluation batches of a split, on the device, and the data's DataInfo."""
    data = DataCache().get(config).to(device)
    chosen = {"train": data.train, "valid": data.valid, "test": data.test}.get(split)
    if chosen is None:
        raise TrainlabError(f"--split {split}: this dataset has no such split; use train or valid")
    size = config.train.eval_batch_size or config.train.batch_size
    out = []
    for batch in chosen.batches(size):
        if max_batches is not None and len(out) >= max_batches:
            break
        out.append(batch)
    return out, data.info


def directions(
    spec: LandscapeSpec,
    model: nn.Module,
    init: Callable[[], Mapping[str, torch.Tensor]],
    epochs: Mapping[int, Mapping[str, torch.Tensor]],
) -> tuple[list, dict]:
    """The plane's two directions for `spec.dirs` and what to record about them: random (filter-normalised),
    init (toward the initial weights `init()` gives, and a random one) or pca (of the `epochs` states)."""
    g = torch.Generator().manual_seed(spec.seed)
    info: dict = {"dirs": spec.dirs}
    if spec.dirs == "random":
        return [random_direction(model, "filter", mode=spec.mode, generator=g) for _ in range(2)], info
    if spec.dirs == "init":
        return [
            toward(model, init(), mode=spec.mode),
            random_direction(model, "filter", mode=spec.mode, generator=g),
        ], info
    # pca: principal directions of the trajectory (Li et al. 2018, §6)
    if len(epochs) < 3:
        raise TrainlabError("dirs pca: needs 3+ states along the trajectory (train.keep_epoch_checkpoints: true)")
    center = weights(model, spec.mode)
    states = list(epochs.values())
    dirs, explained = pca_directions(states, center, list(center))
    # unit principal directions, rescaled so the trajectory spans [-1, 1] along each: --range -1.5:1.5
    # then shows the whole path with a margin, whatever the distance travelled
    coords = np.abs([project(state, center, dirs) for state in states]).max(axis=0)
    dirs = [{n: t * float(scale) for n, t in d.items()} for d, scale in zip(dirs, coords)]
    info["explained_variance"] = [float(e) for e in explained]
    info["pca_scale"] = [float(c) for c in coords]
    return dirs, info


Progress = Callable[[int, int], None]  # (points done, points in all)
BUILT_IN_TASKS = ("classification", "lm", "seq2seq")  # whose outputs are class scores over targets


def _evaluation(batches: list, info: DataInfo, config: RunConfig) -> Callable[[nn.Module], dict[str, float]]:
    """Loss, accuracy and perplexity over the batches for the built-in tasks; the loss of the run's own task
    (a plugin's: a regression has no accuracy) otherwise."""
    if info.task in BUILT_IN_TASKS:
        return batch_metrics(batches, ignore_index=PAD if info.task in ("lm", "seq2seq") else -100)
    return batch_metrics(batches, loss_fn=TASKS.get(info.task).build(info, config.train).loss)


def compute(
    store: Store, run_id: str, spec: LandscapeSpec, device: torch.device, progress: Progress | None = None
) -> Path:
    """Compute (or continue) the landscape; returns its output folder with landscape.npz inside.
    Writes files only: the store learns of it from the ArtifactSaved event `landscape` emits."""
    row = store.run_row(run_id)
    if row is None:
        raise TrainlabError(f"run {run_id}: not in store {store.root}")
    config = resolve([("stored run", flatten(json.loads(row["config"])))], catalog(), f"run {run_id}")
    folder = store.run_dir(run_id)
    batches, info = _batches(config, spec.split, spec.max_batches, device)
    model = build_model(config, info).to(device)
    model.load_state_dict(checkpoint.load_weights(_checkpoint_path(folder, spec.checkpoint), device))
    model.eval()
    epochs = {
        e: checkpoint.load_weights(p, device) for e, p in _epoch_files(folder).items()
    }  # read once: directions, frames, path
    mask = checkpoint.load(folder / "mask.pt", device) if (folder / "mask.pt").exists() else None
    out = folder / "landscape" / spec.key()
    return compute_in(
        out,
        model,
        _evaluation(batches, info, config),
        spec,
        lambda: checkpoint.load_weights(folder / "init.pt", device),
        epochs,
        mask,
        progress,
    )


def compute_in(
    out: Path,
    model: nn.Module,
    evaluate: Callable[[nn.Module], dict[str, float]],
    spec: LandscapeSpec,
    init: Callable[[], Mapping[str, torch.Tensor]],
    epochs: Mapping[int, Mapping[str, torch.Tensor]],
    mask: Mapping[str, torch.Tensor] | None = None,
    progress: Progress | None = None,
) -> Path:
    """The landscape around the model's weights, written to `out` (spec.json, an NPZ per surface, the
    trajectory of the `epochs` states, landscape.csv); a grid interrupted continues from the NPZ."""
    base = weights(model, spec.mode)
    plane, dir_info = directions(spec, model, init, epochs)
    if mask is not None:  # a pruned model: its surface stays in the subspace of its surviving weights
        plane = [{n: d * mask[n] if n in mask else d for n, d in direction.items()} for direction in plane]
        dir_info["masked"] = True
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "spec.json", json.dumps({**spec.request(), **dir_info}, indent=2))
    xs = np.linspace(*spec.range, spec.grid)
    centers = {None: base}
    if spec.epochs == "all":
        centers = {e: {n: t for n, t in state.items() if n in base} for e, state in epochs.items()}
        if not centers:
            raise TrainlabError("epochs all: no states along the trajectory (train.keep_epoch_checkpoints: true)")
    frames = {}
    for epoch, center in centers.items():
        path = out / ("surface.npz" if epoch is None else f"epoch_{epoch}.npz")
        resume = _load_surface(path) if path.exists() else None
        model.load_state_dict({**model.state_dict(), **center})
        frames[epoch] = surface(
            model,
            evaluate,
            plane,
            xs,
            xs,
            mode=spec.mode,
            resume=resume,
            on_row=lambda s, path=path: _save_surface(s, path),
            progress=progress,
        )
    model.load_state_dict({**model.state_dict(), **base})
    trajectory = [(e, *project(state, base, plane)) for e, state in epochs.items()]
    np.save(out / "trajectory.npy", np.asarray(trajectory, float).reshape(-1, 3))
    _write_csv(out / "landscape.csv", frames, spec.metrics)
    return out


def landscape(
    store: Store, run_id: str, spec: LandscapeSpec, device: torch.device, sink: Sink, progress: Progress | None = None
) -> list[Path]:
    """Compute (or continue) a run's landscape, render its figures, then tell the store; returns the files."""
    from trainlab.report.landscape import render

    out = compute(store, run_id, spec, device, progress)
    files = [out / "landscape.csv", *render(out)]
    sink(
        ArtifactSaved(
            run_id, "landscape", str(out.relative_to(store.root)), json.loads((out / "spec.json").read_text())
        )
    )
    return files


def _write_csv(path: Path, frames: dict[int | None, Surface], metrics: tuple[str, ...]) -> None:
    """One row per point: epoch,x,y,metric... (epoch empty for a single surface)."""
    names = [m for m in metrics if m in next(iter(frames.values())).values]
    lines = [",".join(["epoch", "x", "y", *names])]
    for epoch, s in frames.items():
        for r, y in enumerate(s.ys):
            for c, x in enumerate(s.xs):
                values = ",".join(f"{s.values[m][r, c]:.8g}" for m in names)
                lines.append(f"{'' if epoch is None else epoch},{x:.6g},{y:.6g},{values}")
    write_text_atomic(path, "\n".join(lines) + "\n")


def _save_surface(s: Surface, path: Path) -> None:
    arrays = {"xs": s.xs, "ys": s.ys, **{f"metric_{k}": v for k, v in s.values.items()}}
    write_atomic(path, lambda f: np.savez(f, **arrays), sum(a.nbytes for a in arrays.values()))


def _load_surface(path: Path) -> Surface:
    with np.load(path) as f:
        values = {k[7:]: f[k].copy() for k in f.files if k.startswith("metric_")}
        return Surface(f["xs"].copy(), f["ys"].copy(), values)
