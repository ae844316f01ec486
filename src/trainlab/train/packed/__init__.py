"""Packed training: the rounds of several runs of one model shape taken together in one process, their
parameters stacked along a new first dimension and the model called once per step under `torch.func.vmap`
(functional_call over the stacked weights; the functorch model-ensembling recipe). N small matrix products
become one batched product, and per-step Python and kernel-launch costs are paid once for the pack.

Each member stays an ordinary run: its own `Loop` (model, optimizer, schedule, state, hooks) is built as it
would be alone, and only the steps inside a round are shared. Before a round the members' weights, buffers
and optimizer states are stacked; after it they go back into each member, whose `Loop.end_round` logs, validates,
steps its plateau schedule, stops early or records divergence, and saves its checkpoint exactly as alone.
What differs per member: data order (each run's own seeded permutation, gathered in one indexing; augmented
data is drawn from each run's own streams of order and augmentation, as alone, and stacked; data not
held as tensors - token windows, sentence pairs padded per batch - packs only runs of one seed, which draw the
same batches, and the pack draws each batch once, as its runs would alone), dropout
draws (vmap's randomness='different'), learning rates and optimizer hyperparameters, schedules, gradient
clipping norms, starting weights, BatchNorm's running statistics (stacked like the weights, so vmap updates
each member's own in place; unbatched, they could not be), and when it stops (a diverged or early-stopped
member leaves the pack).

The parts: `members` (which runs may pack, with whom, in what order), `step` (the vmapped step and evaluation
over stacked weights), `loop` (`PackedLoop`: a pack's rounds), `sizing` (how many runs fit in a pack, and
whether a packed step is faster: `--pack auto`).
"""

from trainlab.train.packed.loop import PackedLoop
from trainlab.train.packed.members import (
    by_kind,
    failure,
    grouped,
    packs,
    settings_reason,
    why_alone,
)
from trainlab.train.packed.sizing import members_that_fit, step_seconds
from trainlab.train.packed.step import evaluate_together, gradient_orders, laid_out, packed_step, stacked

__all__ = [
    "PackedLoop",
    "by_kind",
    "evaluate_together",
    "failure",
    "gradient_orders",
    "grouped",
    "laid_out",
    "members_that_fit",
    "packed_step",
    "packs",
    "settings_reason",
    "stacked",
    "step_seconds",
    "why_alone",
]
