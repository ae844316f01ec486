"""How a lottery study's runs start (the trainer's `Start` for this kind): from the rewind point or a fresh
initialisation, optionally moved to a point of the starting-point grid (the POSTECH study's w0 + αx + βy,
built with the landscape directions), then pruned by the run's mask, which is kept as mask.pt and
re-applied after every optimizer step."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from trainlab.execution.runner import Start, Started
from trainlab.execution.units import Context
from trainlab.spec import RunSpec
from trainlab.studies.lottery import pruning
from trainlab.studies.lottery.section import PRUNE, PRUNE_KEY, START_KEY, TARGET, PruneSpec, StartPoint
from trainlab.train import Loop, checkpoint, seeding
from trainlab.train.build import build_model
from trainlab.weightspace import random_direction, toward, weights

MASK = "mask.pt"


def move_to_start(model: nn.Module, start: StartPoint, target: Mapping[str, torch.Tensor]) -> None:
    """The model holds w0; afterwards it holds w0 + alpha·(w* - w0) + beta·y, y filter-normalised to w0."""
    w0 = weights(model)
    x = toward(model, {n: target[n] for n in w0})
    y = random_direction(model, "filter", generator=torch.Generator().manual_seed(start.seed))
    moved = {n: w0[n] + start.alpha * x[n] + start.beta * y[n] for n in w0}
    model.load_state_dict({**model.state_dict(), **moved})


class LotteryStart(Start):
    """Rewind (or reinitialise), move to the run's starting point if it has one, prune if it prunes."""

    def fresh(self, run: RunSpec, loop: Loop, ctx: Context, folder: Path) -> Started:
        prune: PruneSpec | None = run.recipe.get(PRUNE_KEY)
        start: StartPoint | None = run.recipe.get(START_KEY)
        if prune and prune.reinit:  # a fresh initialisation, unlike the run it controls
            torch.manual_seed(seeding.stream_seed(prune.seed, "reinit"))
            loop.model.load_state_dict(build_model(run.config, loop.data.info).to(ctx.device).state_dict())
        else:
            self.load_inputs(run, loop, ctx)
        if start:
            (target,) = run.inputs_for(TARGET)
            move_to_start(loop.model, start, checkpoint.load_weights(ctx.checkpoint_of(target), ctx.device))
        if not prune:
            return Started()
        (source,) = run.inputs_for(PRUNE)
        mask = pruning.make_mask(loop.model, prune, ctx.store_root / "runs" / source.run, ctx.device)
        pruning.apply(loop.model, mask)
        checkpoint.save_atomic(mask, folder / MASK)
        return self._masked(loop, mask)

    def resumed(self, run: RunSpec, loop: Loop, ctx: Context, folder: Path) -> Started:
        if PRUNE_KEY not in run.recipe:
            return Started()
        return self._masked(loop, checkpoint.load(folder / MASK, ctx.device))

    @staticmethod
    def _masked(loop: Loop, mask: pruning.Mask) -> Started:
        kept = {
            "weights_kept": sum(int(m.sum()) for m in mask.values()),
            "weights_prunable": sum(m.numel() for m in mask.values()),
        }
        facts = {"remaining": pruning.remaining(mask), **kept}  # counts: the report's tables show weights remaining
        return Started(hooks=(pruning.KeepPruned(loop.model, mask),), facts=facts, files=(MASK,))
