"""The `nqm` kind: the noisy quadratic model's batch-size study (Zhang et al. 2019), solved in expectation
(trainlab.analysis.nqm), in seconds, with the batch-size report of real training studies.

Each unit is one optimizer at one batch size: it tries every learning rate of the section's grid, keeps the
one that reaches the target loss in the fewest steps, and is stored as a run (its config names the
optimizer, batch size and chosen learning rate; its validation loss is the expected loss at doubling steps
and at the step the target is reached), so `ls`, `show` and the report read it like any training run.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from trainlab.analysis.nqm import NQM, dynamics, steps_to
from trainlab.execution.units import Context, Outcome
from trainlab.spec import KindSchema, RunInput, StudySpec
from trainlab.store import Store
from trainlab.store.events import EpochEnded, RunEnded, RunStarted
from trainlab.studies.batch_size.section import BatchSizeSection
from trainlab.studies.kind import KINDS, PlanLine, StudyKind
from trainlab.train.build import DataCache


class NQMOptimizer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    momentum: float = Field(0.0, ge=0, lt=1)
    precondition: float = Field(0.0, ge=0, le=1)  # P = H^-p; ½ stands for Adam's diagonal preconditioner


DEFAULT_OPTIMIZERS = [
    NQMOptimizer(name="sgd"),
    NQMOptimizer(name="momentum", momentum=0.9),
    NQMOptimizer(name="preconditioned", momentum=0.9, precondition=0.5),
]  # Adam-like


class NQMSection(BaseModel):
    """The `nqm:` section of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dimensions: int = Field(10_000, ge=2, le=1_000_000)
    batch_sizes: list[int] = Field([1, 4, 16, 64, 256, 1024, 4096, 16384], min_length=2)
    optimizers: list[NQMOptimizer] = Field(DEFAULT_OPTIMIZERS, min_length=1)
    learning_rates: list[float] = Field([float(f"{lr:.3g}") for lr in np.geomspace(1e-5, 4, 12)], min_length=1)
    target: float = Field(0.1, gt=0)  # expected loss to reach (the start is ½ Σ 1/i: 4.89 for d = 10⁴)
    resamples: int = Field(1000, ge=0, le=100_000)  # bootstrap refits of B_crit
    seed: int = Field(0, ge=0)


@dataclass(frozen=True)
class NQMRun:
    """One optimizer at one batch size."""

    experiment: int
    optimizer: NQMOptimizer
    batch: int
    section: NQMSection
    seed: int = 0
    inputs: tuple[RunInput, ...] = ()

    @property
    def id(self) -> str:
        key = {
            "nqm": {
                "dimensions": self.section.dimensions,
                "target": self.section.target,
                "learning_rates": self.section.learning_rates,
            },
            "optimizer": self.optimizer.model_dump(),
            "batch": self.batch,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def changes(self) -> dict[str, Any]:
        return {"optim.name": self.optimizer.name, "train.batch_size": self.batch}

    def run_config(self, lr: float) -> dict[str, Any]:
        return {
            "data": {"name": "nqm", "dimensions": self.section.dimensions},
            "model": {"name": "nqm"},
            "optim": {
                "name": self.optimizer.name,
                "lr": lr,
                "momentum": self.optimizer.momentum,
                "precondition": self.optimizer.precondition,
            },
            "schedule": {"name": "none"},
            "train": {"batch_size": self.batch, "seed": 0},
        }


class NQMKind(StudyKind):
    schema = KindSchema(section=NQMSection, needs_base=False)

    def plan(
        self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None, store: Store | None
    ) -> list[NQMRun]:
        section = study.section
        units = [
            NQMRun(i, opt, b, section)
            for i, (opt, b) in enumerate(((o, b) for o in section.optimizers for b in section.batch_sizes), start=1)
        ]
        return [u for u in units if only is None or u.experiment in only]

    def describe(self, units: Sequence[NQMRun], store: Store | None, data: DataCache) -> list[PlanLine]:
        lines = []
        for u in units:
            row = store.run_row(u.id) if store else None
            lines.append(
                PlanLine(
                    u.experiment,
                    0,
                    u.id,
                    u.changes,
                    u.section.dimensions,
                    u.section.dimensions,
                    u.section.dimensions,
                    row["status"] if row else "new",
                    row["epochs_done"] if row else 0,
                )
            )
        return lines

    def members(self, units: Sequence[NQMRun]) -> list[dict[str, Any]]:
        return [
            {
                "experiment": u.experiment,
                "seed": 0,
                "run_id": u.id,
                "label": f"{u.optimizer.name}, batch {u.batch}",
                "changes": u.changes,
            }
            for u in units
        ]

    def run(self, unit: NQMRun, ctx: Context) -> Outcome:
        model = NQM(unit.section.dimensions)
        results = [
            (
                steps_to(
                    d := dynamics(model, lr, unit.batch, unit.optimizer.momentum, unit.optimizer.precondition),
                    unit.section.target,
                ),
                lr,
                d,
            )
            for lr in unit.section.learning_rates
        ]
        steps, lr, best = min(results, key=lambda r: (r[0], r[1]))
        size = unit.section.dimensions
        ctx.sink(
            RunStarted(
                unit.id,
                unit.run_config(lr),
                "loss",
                {"total": size, "trainable": size, "non_embedding": size},
                "analytic",
                0,
                {"main_mode": "min", "steps_to_target": steps},
            )
        )
        points = sorted(
            {
                *(2**k for k in range(int(math.log2(steps)) + 1 if math.isfinite(steps) else 25)),
                *([int(steps)] if math.isfinite(steps) else []),
            }
        )
        for epoch, t in enumerate(points, start=1):
            loss = best.loss(t) if best.stable else math.inf
            rows = ((t, epoch, "valid", "loss", loss, 0.0), (t, epoch, "train", "seen", float(t * unit.batch), 0.0))
            ctx.sink(
                EpochEnded(
                    unit.id,
                    rows,
                    {
                        "status": "partial",
                        "epochs_done": epoch,
                        "best_value": loss,
                        "best_epoch": epoch,
                        "diverged_epoch": None,
                    },
                )
            )
        ctx.sink(RunEnded(unit.id, "done"))
        return Outcome(unit.id, unit.experiment, 0, "done", len(points))

    def report(self, records: Any, section: NQMSection, out: Path) -> list[tuple[str, str]]:
        from trainlab.studies.batch_size.report import batch_size_sections

        summary = (
            f"<p>The noisy quadratic model in {section.dimensions:,} dimensions (h_i = 1/i, gradient noise "
            f"H/B), solved in expectation: steps to an expected loss of {section.target:g} for each optimizer "
            "and batch size at its best learning rate (Zhang et al. 2019).</p>"
        )
        trade_off = BatchSizeSection(
            target=section.target, metric="loss", resamples=section.resamples, seed=section.seed
        )
        return [("Summary", summary), *batch_size_sections(records, out, trade_off)]


KINDS.register("nqm", NQMKind())
