"""Starting points off the line from a run's initial weights to its trained ones (the POSTECH study's
grid of w0 + αx + βy), built with the landscape directions."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from trainlab.landscape import random_direction, toward, weights
from trainlab.spec import StartPoint


def move_to_start(model: nn.Module, start: StartPoint, target: Mapping[str, torch.Tensor]) -> None:
    """The model holds w0; afterwards it holds w0 + alpha·(w* - w0) + beta·y, y filter-normalised to w0."""
    w0 = weights(model)
    x = toward(model, {n: target[n] for n in w0})
    y = random_direction(model, "filter", generator=torch.Generator().manual_seed(start.seed))
    moved = {n: w0[n] + start.alpha * x[n] + start.beta * y[n] for n in w0}
    model.load_state_dict({**model.state_dict(), **moved})
