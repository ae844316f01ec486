"""A CPU-friendly shortcut for surfaces: when a model starts with a Linear layer, its output on a fixed
batch is linear in the weights, (W + a·D1 + b·D2)x = Wx + a·D1x + b·D2x, so Wx, D1x and D2x are
computed once per batch and every grid point costs only the rest of the network (see
../shared/notes/baselines.md: evaluation dominates, and the first layer is the largest matmul of an MLP).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from trainlab.weightspace.directions import Direction

PARAMETER_FREE = (nn.Flatten, nn.Identity)


class CachedLinear(nn.Module):
    """Stands in for the first Linear: combines cached products with the current coefficients."""

    def __init__(
        self,
        linear: nn.Linear,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        directions: list[tuple[torch.Tensor, torch.Tensor | None]],
    ) -> None:
        super().__init__()
        self.linear, self.weight0, self.bias0, self.directions = linear, weight, bias, directions
        self.coefficients: Sequence[float] = ()
        self._cache: dict[tuple, list[torch.Tensor]] = {}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        key = (z.data_ptr(), tuple(z.shape), tuple(z.stride()))
        if key not in self._cache:  # one product per direction per batch, then reused at every point
            self._cache[key] = [z @ self.weight0.T, *(z @ d.T for d, _ in self.directions)]
        base, *products = self._cache[key]
        out = base.clone()
        for c, p in zip(self.coefficients, products):
            if c:
                out.add_(p, alpha=c)
        bias = self.bias0.clone() if self.bias0 is not None else None
        for c, (_, db) in zip(self.coefficients, self.directions):
            if bias is not None and db is not None and c:
                bias.add_(db, alpha=c)
        return out if bias is None else out + bias


def _first_linear(model: nn.Module) -> int | None:
    """Index of a Linear in a Sequential preceded only by parameter-free, stateless modules."""
    if not isinstance(model, nn.Sequential):
        return None
    for i, module in enumerate(model):
        if isinstance(module, nn.Linear):
            return i
        if not isinstance(module, PARAMETER_FREE):
            return None
    return None


@contextmanager
def linear_cache(model: nn.Module, directions: Sequence[Direction]) -> Iterator[CachedLinear | None]:
    """Swap the model's first Linear for a CachedLinear while the surface is computed (None when the
    model does not start with one); the original module is put back on exit."""
    index = _first_linear(model)
    if index is None:
        yield None
        return
    linear = model[index]
    prefix = f"{index}."
    names = {n.removeprefix(prefix): n for n in directions[0] if n.startswith(prefix)}
    dirs = [(d[names["weight"]], d.get(names.get("bias", ""))) for d in directions]
    cached = CachedLinear(
        linear, linear.weight.detach().clone(), linear.bias.detach().clone() if linear.bias is not None else None, dirs
    )
    model[index] = cached
    try:
        yield cached
    finally:
        model[index] = linear
