"""`trainlab.track`: any training script records into a store, three lines added to it.

    with trainlab.track("my-study", config={"lr": 0.01, "seed": 1}, store="runs/") as run:
        for step, batch in ...:
            run.log({"loss": loss}, step=step)             # split "train" by default
        run.log_epoch({"loss": vl, "accuracy": va})          # split "valid": closes a round, keeps the best
        run.summary({"accuracy": test_acc})                 # split "test"

A tracked run is an ordinary run of the store: its id is a hash of its config (the same config is the same
run; `resume=True` continues it), it is claimed while the script runs (two processes cannot write one run),
its status is partial while it runs, done when the block ends, failed (with the traceback) when the block
raises; every write goes through the store's one writer. Its rounds are the store's epochs: `log_epoch`
ends one. `log` calls are buffered and written in batches (every FLUSH_S seconds, FLUSH_ROWS rows, and at
each round's end), so a training step pays for a list append; tensors are read (a device sync) only then.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.spec.dotted import flatten
from trainlab.spec.labels import experiment_label
from trainlab.spec.metrics import metric_mode
from trainlab.spec.study import NAME_PATTERN
from trainlab.store import Claims, Store, StoreWriter
from trainlab.store.events import (
    CheckpointSaved,
    EpochEnded,
    FactsMeasured,
    MetricRow,
    PointsLogged,
    RunEnded,
    RunStarted,
    StudyPlanned,
)

FLUSH_S = 2.0  # buffered rows are written at least this often
FLUSH_ROWS = 5000  # or when this many wait
SEED_KEYS = ("seed", "train.seed")  # the config key that says which seed a run is


def tracked_id(config: Mapping[str, Any], source: str | None = None) -> str:
    """The run id of a tracked config: a hash of it (under a key no trained run's config has), and of where
    it came from when that is what tells runs apart (an imported run's folder)."""
    identity = {"tracked": config} if source is None else {"tracked": config, "source": source}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class TrackedRun:
    """One run recorded from a script; use it through `track`."""

    def __init__(
        self,
        study: str,
        config: Mapping[str, Any],
        store: str | Path,
        main_metric: str,
        mode: str | None,
        resume: bool,
        source: str | None = None,
        params: Mapping[str, int] | None = None,
    ) -> None:
        try:
            self.config = json.loads(json.dumps(dict(config)))  # what the store keeps, checked to be JSON
        except (TypeError, ValueError) as err:
            raise TrainlabError(f"track: config must be JSON-like (numbers, strings, lists, mappings): {err}") from None
        self.study, self.id = study, tracked_id(self.config, source)
        self.main_metric, self.resume = main_metric, resume
        self.params = dict(params or {"total": 0, "trainable": 0})
        self.mode = mode or metric_mode(main_metric)
        if self.mode not in ("min", "max"):
            raise TrainlabError(f"track: mode {mode!r}: choose min or max")
        self.store = Store(store)
        self.write = StoreWriter(self.store)
        self.claims: Claims | None = None
        self.epoch = 0  # rounds done
        self.step = 0  # the last step logged
        self.best: float | None = None
        self.best_epoch: int | None = None
        self._last: dict[tuple[str, str], int] = {}  # (split, name) -> its last step
        self._rows: list[tuple[int, int, str, str, Any, float]] = []
        self._seconds_before = 0.0
        self._started = self._flushed = time.monotonic()
        self._round_began = 0.0  # seconds into the run when the round in progress began

    # -- the block ---------------------------------------------------------------------------------

    def __enter__(self) -> TrackedRun:
        self.claims = Claims(self.store.path)
        try:
            claim = self.claims.take(self.id)
            if not claim.granted:
                raise TrainlabError(
                    f"track: run {self.id} of study {self.study!r} is being written by "
                    f"{claim.holder}; one process writes a run"
                )
            planned = self.store.study_spec(self.study)
            if planned is not None and not planned.get("tracked"):
                raise TrainlabError(
                    f"track: study {self.study!r} in {self.store.root} is run from a study file; record "
                    "tracked runs under a name of their own (the file's plan would drop them)"
                )
            row = self.store.run_row(self.id)
            if row is not None:
                self._continue(row)
            self.write(StudyPlanned(self.study, self._spec(), tuple(self._members())))
            self.write(
                RunStarted(
                    self.id,
                    self.config,
                    self.main_metric,
                    self.params,
                    "tracked",
                    self.epoch,
                    {"main_mode": self.mode, "tracked": True},
                )
            )
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        try:
            self._flush()
            if kind is None:
                self.write(RunEnded(self.id, "done"))
            elif not issubclass(kind, KeyboardInterrupt):  # Ctrl-C leaves it partial, to resume
                self.write(RunEnded(self.id, "failed", facts={"error": "".join(traceback.format_exception(error))}))
        finally:
            self._close()

    def _close(self) -> None:
        if self.claims is not None:
            self.claims.close()
        self.store.close()

    def _continue(self, row: Mapping[str, Any]) -> None:
        if not self.resume:
            raise TrainlabError(
                f"track: run {self.id} (this config) is already in {self.store.root} "
                f"({row['status']}, {row['epochs_done']} rounds); pass resume=True to continue it, "
                "or change the config"
            )
        self.epoch, self.best, self.best_epoch = row["epochs_done"], row["best_value"], row["best_epoch"]
        self._seconds_before = self._round_began = row["train_seconds"] or 0.0
        kept = self.store.metrics([self.id])
        kept = kept[kept["epoch"] <= self.epoch]
        self.step = int(kept["step"].max()) if len(kept) else 0
        self._last = {(s, n): int(g["step"].max()) for (s, n), g in kept.groupby(["split", "name"])}

    # -- recording ---------------------------------------------------------------------------------

    def log(self, metrics: Mapping[str, Any], step: int | None = None, split: str = "train") -> None:
        """Values of the round in progress at `step` (default: one past the last step logged)."""
        self._rows_of(metrics, step, split, self.epoch + 1)
        if len(self._rows) >= FLUSH_ROWS or time.monotonic() - self._flushed >= FLUSH_S:
            self._flush()

    def log_epoch(
        self, metrics: Mapping[str, Any] | None = None, split: str = "valid", step: int | None = None
    ) -> None:
        """End the round in progress, with its values (validation by default): they are the round's, and
        the main metric of `valid` keeps the run's best."""
        round_ = self.epoch + 1
        step = self.step if step is None else step
        self._rows_of(metrics or {}, step, split, round_)
        now = self._seconds()
        self._rows.append((step, round_, "train", "seconds", now - self._round_began, now))  # the round's time
        self._round_began = now
        self._end_round(metrics if split == "valid" else None, now)

    def add_round(self, rows: Sequence[tuple[int, str, str, float, float]]) -> None:
        """A round measured elsewhere (an import): its rows (step, split, name, value, wall seconds), each
        series' steps only going on; the last valid value of the main metric keeps the run's best."""
        round_ = self.epoch + 1
        for step, split, name, value, wall in rows:
            self._check(split, name, step, value)
            self._rows.append((step, round_, split, name, value, wall))
            self.step = max(self.step, step)
        valid = {name: value for _, split, name, value, _ in rows if split == "valid"}
        self._end_round(valid, max((r[4] for r in rows), default=self._seconds()))

    def _end_round(self, valid: Mapping[str, Any] | None, seconds: float) -> None:
        round_ = self.epoch + 1
        value = (valid or {}).get(self.main_metric)
        if value is not None and math.isfinite(v := float(value)):
            if self.best is None or (v > self.best if self.mode == "max" else v < self.best):
                self.best, self.best_epoch = v, round_
        rows = self._taken()
        self.epoch = round_
        self.write(
            EpochEnded(
                self.id,
                rows,
                {
                    "status": "partial",
                    "epochs_done": round_,
                    "best_value": self.best,
                    "best_epoch": self.best_epoch,
                    "train_seconds": seconds,
                },
            )
        )

    def summary(self, metrics: Mapping[str, Any], split: str = "test") -> None:
        """Final values (test metrics by default, of the model the script kept: stored at the best round, as
        trainlab's own test rows are), at the last step."""
        self._rows_of(metrics, self.step, split, self.best_epoch or max(self.epoch, 1))
        self._flush()

    def save_checkpoint(self, model: Any, optimizer: Any = None, name: str = "last") -> Path:
        """The model's (and optimizer's) state as runs/<id>/<name>.pt, written atomically, the previous kept."""
        from trainlab.train import checkpoint

        state = {"model": model.state_dict(), **({"optimizer": optimizer.state_dict()} if optimizer else {})}
        path = self.store.run_dir(self.id) / f"{name}.pt"
        checkpoint.save_keeping_previous(state, path)
        self.write(CheckpointSaved(self.id, path.name))
        return path

    def load_checkpoint(self, name: str = "last") -> dict[str, Any] | None:
        """What `save_checkpoint` saved last (None before any): to resume a model and its optimizer."""
        from trainlab.train import checkpoint

        state, _ = checkpoint.load_newest(self.store.run_dir(self.id) / f"{name}.pt", "cpu")
        return state

    def facts(self, facts: Mapping[str, Any]) -> None:
        """Anything else to keep with the run (parameter counts, the machine, ...), merged into its facts."""
        self.write(FactsMeasured(self.id, dict(facts)))

    # -- inside ------------------------------------------------------------------------------------

    def _rows_of(self, metrics: Mapping[str, Any], step: int | None, split: str, round_: int) -> None:
        step = self.step + 1 if step is None else int(step)
        wall = self._seconds()
        for name, value in metrics.items():
            self._check(split, str(name), step, value)
            self._rows.append((step, round_, split, str(name), value, wall))
        self.step = max(self.step, step)

    def _check(self, split: str, name: str, step: int, value: Any) -> None:
        """A value is a number, and a series' steps only go on (equal steps are kept, in order)."""
        if not _is_number(value):
            raise TrainlabError(f"run.log: {split}/{name}: {value!r} is not a number")
        last = self._last.get((split, name))
        if last is not None and step < last:
            raise TrainlabError(f"run.log: {split}/{name}: step {step} comes after step {last}; steps only go on")
        self._last[split, name] = step

    def _taken(self) -> tuple[MetricRow, ...]:
        """The buffered rows, their tensors read at once (one device sync for all of them)."""
        rows, self._rows = self._rows, []
        self._flushed = time.monotonic()
        tensors = [r[4] for r in rows if hasattr(r[4], "detach")]
        if tensors:
            import torch

            read = iter(torch.stack([t.detach().reshape(()).float() for t in tensors]).tolist())
            rows = [(*r[:4], next(read) if hasattr(r[4], "detach") else r[4], r[5]) for r in rows]
        return tuple((s, e, sp, n, float(v), w) for s, e, sp, n, v, w in rows)

    def _flush(self) -> None:
        if self._rows:
            self.write(PointsLogged(self.id, self._taken()))

    def _seconds(self) -> float:
        return self._seconds_before + time.monotonic() - self._started

    def _spec(self) -> dict[str, Any]:
        return {"name": self.study, "kind": "train", "description": "runs recorded by trainlab.track", "tracked": True}

    def _members(self) -> list[dict[str, Any]]:
        """Every run of the study with this one: an experiment per config apart from its seed, labelled by the
        keys the study's configs vary."""
        known = [(rid, config) for _, _, rid, config in self.store.study_configs(self.study) if rid != self.id]
        flat = [(rid, flatten(config)) for rid, config in [*known, (self.id, self.config)]]
        swept = sorted(
            {k for _, f in flat for k in f if k not in SEED_KEYS and len({json.dumps(g.get(k)) for _, g in flat}) > 1}
        )
        experiments: dict[str, int] = {}
        members = []
        for rid, values in flat:
            setting = json.dumps({k: v for k, v in values.items() if k not in SEED_KEYS}, sort_keys=True, default=str)
            number = experiments.setdefault(setting, len(experiments) + 1)
            seed = next((values[k] for k in SEED_KEYS if isinstance(values.get(k), int)), 0)
            plain = sorted(k for k in values if k not in SEED_KEYS)[:2]
            label = experiment_label(swept, values, {}, None, (), plain) if plain else "run"
            members.append(
                {
                    "experiment": number,
                    "seed": seed,
                    "run_id": rid,
                    "label": label,
                    "changes": {k: values.get(k) for k in swept},
                }
            )
        return members


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if hasattr(value, "numel") and hasattr(value, "detach"):
        return value.numel() == 1 and (value.is_floating_point() or not value.dtype.is_complex)
    try:
        float(value)  # numpy scalars
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str)


def track(
    study: str,
    config: Mapping[str, Any],
    store: str | Path = "trainlab-store",
    *,
    main_metric: str = "loss",
    mode: str | None = None,
    resume: bool = False,
    model: Any = None,
) -> TrackedRun:
    """A run of `study` with this `config`, recorded in `store` while the `with` block runs. `main_metric`
    (of split valid) ranks its rounds, higher better for accuracy-like names unless `mode` says. `model`
    (an nn.Module), when given, is counted: the run's parameters, total and trainable."""
    if not re.fullmatch(NAME_PATTERN, study):
        raise TrainlabError(f"track: study {study!r}: letters, digits, '.', '_' or '-', starting with one of the first")
    params = None
    if model is not None:
        total = sum(p.numel() for p in model.parameters())
        params = {"total": total, "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    return TrackedRun(study, config, store, main_metric, mode, resume, params=params)
