"""Stores of made-up runs, shaped like trained ones (the same events, rows and facts), for trying reports
and the dashboard at the scale of a large sweep without training anything: the scale benchmarks and the
report tests build theirs here. Nothing in a real study uses it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlab.spec.dotted import flatten, set_path
from trainlab.spec.labels import number_text
from trainlab.store.db import Store
from trainlab.store.events import EpochEnded, MetricRow, RunEnded, RunStarted, StudyPlanned
from trainlab.store.writer import StoreWriter


@dataclass(frozen=True)
class MadeUpRun:
    """One run: its place in the study, its config changes from the base, and its valid main metric per
    round (accuracy, higher is better); the other metrics are derived from it."""

    experiment: int
    seed: int
    changes: Mapping[str, Any]
    label: str
    valid: Sequence[float]
    test: float | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    params: tuple[int, int] = (1000, 1000)  # total, trainable
    seconds_per_round: float = 2.0

    def run_id(self, study: str) -> str:
        text = json.dumps([study, self.experiment, self.seed], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


BASE = {
    "data": {"name": "teacher_attention"},
    "model": {"name": "attention_classifier"},
    "optim": {"name": "sgd", "lr": 0.01},
    "train": {"batch_size": 128},
}


def write_study(
    store: Store,
    name: str,
    runs: Sequence[MadeUpRun],
    base: Mapping[str, Any] = BASE,
    steps_per_round: int = 100,
    metrics: Collection[tuple[str, str]] | None = None,
) -> list[str]:
    """Write the study and its runs through the store writer; returns the run ids. `metrics`: the (split,
    name) rows to write each round (default: all a classification run logs)."""
    write = StoreWriter(store, log=False)  # made-up runs have no folders to keep a log in
    spec = {"name": name, "kind": "train", "base": dict(base)}
    members = tuple(
        {
            "experiment": r.experiment,
            "seed": r.seed,
            "run_id": r.run_id(name),
            "label": r.label,
            "changes": dict(r.changes),
        }
        for r in runs
    )
    write(StudyPlanned(name, spec, members))
    for run in runs:
        config: dict[str, Any] = json.loads(json.dumps(base))
        for key, value in {**run.changes, "train.seed": run.seed}.items():
            set_path(config, key, value)
        rid = run.run_id(name)
        total, trainable = run.params
        write(
            RunStarted(
                rid,
                config,
                "accuracy",
                {"total": total, "trainable": trainable, "non_embedding": total},
                "cpu",
                facts={"main_mode": "max", "steps_per_epoch": steps_per_round, **run.facts},
            )
        )
        rows = [
            row
            for epoch, value in enumerate(run.valid, 1)
            for row in _round_rows(epoch, value, steps_per_round, flatten(config), run.seconds_per_round)
            if metrics is None or (row[2], row[3]) in metrics
        ]
        best = int(np.nanargmax(run.valid)) + 1 if np.isfinite(run.valid).any() else None
        write(
            EpochEnded(
                rid,
                tuple(rows),
                {
                    "status": "partial",
                    "epochs_done": len(run.valid),
                    "train_seconds": run.seconds_per_round * len(run.valid),
                    "best_value": run.valid[best - 1] if best else None,
                    "best_epoch": best,
                },
            )
        )
        test = run.test if run.test is not None else (run.valid[best - 1] - 0.01 if best else math.nan)
        write(RunEnded(rid, "done", ((steps_per_round * len(run.valid), best or 0, "test", "accuracy", test, 0.0),)))
    return [m["run_id"] for m in members]


def _round_rows(epoch: int, valid: float, steps: int, config: Mapping[str, Any], seconds: float) -> list[MetricRow]:
    step, wall = epoch * steps, seconds * epoch
    loss = -math.log(max(min(valid, 0.999), 1e-3))
    return [
        (step, epoch, "train", "loss", loss * 0.9, wall),
        (step, epoch, "train", "accuracy", min(valid + 0.02, 1.0), wall),
        (step, epoch, "train", "lr", float(config.get("optim.lr", 0.01)), wall),
        (step, epoch, "train", "seconds", seconds, wall),
        (step, epoch, "train", "samples_per_s", 6400.0, wall),
        (step, epoch, "train", "seen", float(step * 128), wall),
        (step, epoch, "train", "flops", step * 1e9, wall),
        (step, epoch, "valid", "loss", loss, wall),
        (step, epoch, "valid", "accuracy", valid, wall),
        (step, epoch, "valid", "seconds", 0.2, wall),
    ]


def sweep(optimizers: Sequence[str], lrs: Sequence[float], seeds: int, rounds: int, seed: int = 0) -> list[MadeUpRun]:
    """A grid of optimizers × learning rates × seeds whose valid accuracy rises to a ceiling that depends on
    the pair (each optimizer with its own best learning rate), with seed noise."""
    rng = np.random.default_rng(seed)
    runs, number = [], 0
    for k, name in enumerate(optimizers):
        best_lr = math.log10(lrs[(2 * k + 1) % len(lrs)])  # each optimizer prefers another learning rate
        for lr in lrs:
            number += 1
            ceiling = 0.95 - 0.04 * k - 0.08 * (math.log10(lr) - best_lr) ** 2
            for s in range(seeds):
                t = np.arange(1, rounds + 1)
                curve = ceiling * (1 - np.exp(-t / (0.15 * rounds))) + rng.normal(0, 0.005, rounds)
                runs.append(
                    MadeUpRun(
                        number,
                        s,
                        {"optim.name": name, "optim.lr": lr},
                        f"{name}, lr {number_text(lr)}",
                        list(np.clip(curve, 0.0, 1.0)),
                    )
                )
    return runs
