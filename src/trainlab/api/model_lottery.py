"""`trainlab.Ticket`: lottery-ticket tools on any `nn.Module`, for a training loop trainlab did not write
(Frankle & Carbin 2019; rewinding to an early iteration: Frankle et al. 2020, "Linear mode connectivity").

    ticket = trainlab.Ticket(model)          # the rewind point: the weights now (or ticket.remember() later)
    ... train ...
    ticket.prune(0.2)                        # remove 20 % of the surviving weights by magnitude, per layer
    ticket.rewind()                          # back to the rewind point, pruned weights at zero
    ticket.keep_pruned(optimizer)            # pruned weights stay zero after every optimizer.step()
    ticket.save(run)                         # mask.pt and the weights remaining, with a tracked run

The masks are the `lottery` kind's own (which weights are prunable, magnitude pruning per layer or global,
random masks of the same per-layer sparsity for the random-pruning control).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlab.api.common import recorded_run
from trainlab.errors import TrainlabError
from trainlab.store import StoreWriter
from trainlab.store.events import FactsMeasured
from trainlab.studies.lottery import pruning
from trainlab.studies.lottery.section import PruneSpec
from trainlab.studies.lottery.starts import MASK


class Ticket:
    """A model's mask (every prunable weight alive at first) and the weights it rewinds to."""

    def __init__(self, model: nn.Module, prunable: tuple[str, ...] = ()) -> None:
        """`prunable`: parameter name patterns (fnmatch); by default the weights of Linear and Conv layers,
        never biases, norms nor embeddings."""
        self.model = model
        self.params = pruning.prunable(model, tuple(prunable))
        if not self.params:
            raise TrainlabError("Ticket: the model has no Linear or Conv weights; name them with prunable=")
        self.mask: pruning.Mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in self.params.items()}
        self.rewind_point: dict[str, torch.Tensor] = {}
        self.remember()

    def remember(self) -> None:
        """The model's weights now become the rewind point (call after k steps for late rewinding)."""
        self.rewind_point = {n: t.detach().clone() for n, t in self.model.state_dict().items()}

    def prune(
        self, amount: float = 0.2, scope: str = "layer", layer_amounts: Mapping[str, float] | None = None
    ) -> pruning.Mask:
        """Remove the smallest-magnitude `amount` of the surviving prunable weights (of each layer, or of all
        together with scope 'global'; `layer_amounts` maps name patterns to their own amount), and zero them."""
        if not 0.0 < amount < 1.0 or scope not in ("layer", "global"):
            raise TrainlabError(f"Ticket.prune: amount {amount} must be in (0, 1), scope 'layer' or 'global'")
        spec = PruneSpec(amount=amount, scope=scope, layer_amounts=tuple((layer_amounts or {}).items()))
        pruning.check_layer_amounts(self.params, spec)
        current = {n: p.detach() for n, p in self.params.items()}
        self.mask = pruning.magnitude_mask(current, self.mask, spec)
        pruning.apply(self.model, self.mask)
        return self.mask

    def randomized(self, seed: int = 0) -> pruning.Mask:
        """A control's mask: as many weights per layer as this mask keeps, at random places."""
        return pruning.random_mask_like(self.mask, seed)

    def rewind(self, mask: pruning.Mask | None = None) -> None:
        """The rewind point's weights (and buffers), then the mask (this ticket's, or `mask`) applied."""
        self.model.load_state_dict(self.rewind_point)
        pruning.apply(self.model, self.mask if mask is None else mask)

    def keep_pruned(self, optimizer: torch.optim.Optimizer, mask: pruning.Mask | None = None) -> Any:
        """After every `optimizer.step()`, pruned weights go back to exactly zero; returns the hook's handle
        (`.remove()` ends it)."""
        keep = pruning.KeepPruned(self.model, self.mask if mask is None else mask)
        return optimizer.register_step_post_hook(lambda *_: keep.on_step(None, None))

    def remaining(self) -> dict[str, float]:
        """Fraction of weights kept, per tensor and in all ('total')."""
        return pruning.remaining(self.mask)

    def save(self, run: Any, store: str | Path | None = None) -> Path:
        """The mask as the run's mask.pt and the weights remaining among its facts: a tracked run, or a run
        id (prefix) in `store`."""
        from trainlab.train import checkpoint

        found = recorded_run(run, store, "Ticket.save")
        if found is None:
            raise TrainlabError("Ticket.save: give the tracked run (or a run id and store=) to save the mask with")
        db, run_id = found
        try:
            path = db.run_dir(run_id) / MASK
            path.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.save_atomic({n: m.cpu() for n, m in self.mask.items()}, path)
            StoreWriter(db)(FactsMeasured(run_id, {"remaining": self.remaining()}))
            return path
        finally:
            db.close()
