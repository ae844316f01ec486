"""The `lottery` kind: iterative magnitude pruning with rewinding (Frankle & Carbin 2019; Frankle et al.
2020 for rewinding to step k), with OpenLTH's controls, for any registered model.

For every run of the grid (experiment × seed), level 0 is the dense run (the same run, and id, as in a
train study). Level L prunes `fraction` of the weights level L-1 kept, by magnitude of level L-1's trained
weights (per layer, or globally), and trains the survivors from level 0's weights at the rewind point.
Controls of level L: its mask with a fresh initialisation (`random_reinit`), and a random mask with its
per-layer sparsity, rewound like the ticket (`random_prune`). `one_shot` prunes the dense run once to
each given fraction, trained from the recorded initialisation and from a fresh one (the POSTECH study).
`start_grid` trains from a grid of starting points w0 + αx + βy, x = w* - w0 (the dense run's trained
minus initial weights), y a filter-normalised random direction, optionally one-shot pruned first (the
POSTECH study's "winning starting points"). Every level, control and grid point is its own run,
resumable, with its mask in runs/<id>/mask.pt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import TrainlabError
from trainlab.execution.runner import train_pack, train_run
from trainlab.execution.units import Context, Outcome
from trainlab.spec import KindSchema, RunInput, RunSpec, StudySpec
from trainlab.store import Store
from trainlab.studies.kind import KINDS
from trainlab.studies.lottery import pruning
from trainlab.studies.lottery.plan import lottery_runs, with_inputs
from trainlab.studies.lottery.section import PRUNE_KEY, LotterySection
from trainlab.studies.lottery.starts import LotteryStart
from trainlab.studies.train import TrainKind
from trainlab.train.build import DataCache, build_model


class LotteryKind(TrainKind):
    """Iterative magnitude pruning with rewinding and controls, on every run of the grid."""

    schema = KindSchema(section=LotterySection, needs_base=True)

    def plan(
        self, study: StudySpec, overrides: Mapping[str, Any], only: Sequence[int] | None, store: Store | None
    ) -> list[RunSpec]:
        bases = super().plan(study, overrides, None, store)
        per_base = len(lottery_runs(bases[0], study.section, 1))
        runs = [
            run for base in bases for run in lottery_runs(base, study.section, (base.experiment - 1) * per_base + 1)
        ]
        return with_inputs(runs, only) if only else runs

    def preflight(self, units: Sequence[RunSpec], device: torch.device, data: DataCache) -> list[str]:
        notes = super().preflight(units, device, data)
        for run in units:
            if PRUNE_KEY in run.recipe:
                spec = run.recipe[PRUNE_KEY]
                with torch.device("meta"):
                    params = pruning.prunable(build_model(run.config, data.get(run.config).info), spec.prunable)
                pruning.check_layer_amounts(params, spec)
            for source in run.inputs:
                _check_rewind(source, run, data)
        return notes

    def run(self, unit: RunSpec, ctx: Context) -> Outcome:
        return train_run(unit, ctx, LotteryStart())

    def run_pack(self, units: Sequence[RunSpec], ctx: Context) -> list[Outcome]:
        return train_pack(units, ctx, LotteryStart())

    def own_sections(self, records: Any, section: LotterySection, out: Path) -> list[tuple[str, str]]:
        from trainlab.studies.lottery.report import lottery_sections

        return lottery_sections(records, out)


def _check_rewind(source: RunInput, run: RunSpec, data: DataCache) -> None:
    """A rewind point the dense run never reaches is a mistake in the study, found before any training."""
    kind, _, number = source.checkpoint.partition(":")
    if kind not in ("step", "epoch"):
        return
    train = run.config.train
    per_epoch = data.get(run.config).train.num_batches(train.batch_size)
    steps, epochs = train.total_steps(per_epoch), train.max_epochs(per_epoch)
    if int(number) > (steps if kind == "step" else epochs):
        raise TrainlabError(
            f"lottery.rewind: {source.checkpoint} is beyond the dense run's {steps:,} steps ({epochs} epochs)"
        )


KINDS.register("lottery", LotteryKind())
