"""Directions in weight space for loss landscapes (Li et al. 2018, "Visualizing the Loss Landscape of
Neural Nets"): random Gaussian with filter/layer/model normalisation, toward another set of weights,
and PCA of a training trajectory. A direction is a dict name -> tensor shaped like the weight it moves.

Works on any nn.Module. Mode `weights` moves parameters only; mode `states` also moves floating-point
buffers (BatchNorm running statistics), as the official code's `--dir_type states`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

Direction = dict[str, torch.Tensor]
Normalization = Literal["filter", "layer", "model"] | None
Mode = Literal["weights", "states"]


def weights(model: nn.Module, mode: Mode = "weights") -> Direction:
    """The tensors a landscape moves, detached clones keyed by state-dict name."""
    if mode == "weights":
        return {n: p.detach().clone() for n, p in model.named_parameters()}
    return {n: t.detach().clone() for n, t in model.state_dict().items() if t.is_floating_point()}


def _filter_norms(t: torch.Tensor) -> torch.Tensor:
    """Norm of each output filter (row of a Linear, output channel of a conv), broadcastable to t."""
    return t.reshape(t.shape[0], -1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def normalize(
    direction: Direction, reference: Mapping[str, torch.Tensor], how: Normalization, include_1d: bool = False
) -> Direction:
    """Rescale a direction to the scale of `reference` (the weights it perturbs).

    filter: each filter d_i <- d_i / ||d_i|| · ||w_i|| (Li et al. 2018, §4); layer: each tensor to its
    weight's norm; model: the whole direction to the whole model's norm. One-dimensional tensors (biases,
    normalisation scales) are zeroed unless `include_1d`, then rescaled as one filter.
    """
    out = {}
    eps = 1e-10
    for name, d in direction.items():
        w = reference[name]
        if d.dim() <= 1 and not include_1d:
            out[name] = torch.zeros_like(d)
        elif how == "filter" and d.dim() > 1:
            out[name] = d * (_filter_norms(w) / (_filter_norms(d) + eps))
        elif how in ("filter", "layer"):
            out[name] = d * (w.norm() / (d.norm() + eps))
        else:
            out[name] = d.clone()
    if how == "model":
        scale = torch.sqrt(sum((reference[n] ** 2).sum() for n in out if out[n].any())) / (norm(out) + eps)
        out = {n: d * scale for n, d in out.items()}
    return out


def norm(direction: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.sqrt(sum((d.double() ** 2).sum() for d in direction.values())).float()


def random_direction(
    model: nn.Module,
    normalization: Normalization = "filter",
    *,
    mode: Mode = "weights",
    include_1d: bool = False,
    generator: torch.Generator | None = None,
) -> Direction:
    """A Gaussian direction, normalised to the model's weights (drawn on the CPU, then moved)."""
    ref = weights(model, mode)
    raw = {n: torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device) for n, w in ref.items()}
    return normalize(raw, ref, normalization, include_1d)


def toward(model: nn.Module, target: Mapping[str, torch.Tensor], *, mode: Mode = "weights") -> Direction:
    """target - current: α = 1 along it reaches `target` exactly (e.g. the initial weights)."""
    ref = weights(model, mode)
    return {n: target[n].to(w.device, w.dtype) - w for n, w in ref.items()}


def pca_directions(
    trajectory: Sequence[Mapping[str, torch.Tensor]],
    center: Mapping[str, torch.Tensor],
    names: Sequence[str],
    k: int = 2,
) -> tuple[list[Direction], torch.Tensor]:
    """The top-k principal directions of (w_t - center) over a trajectory (Li et al. 2018, §6), and the
    fraction of variance each explains."""
    rows = torch.stack(
        [torch.cat([(s[n].float() - center[n].float()).flatten().cpu() for n in names]) for s in trajectory]
    )
    _, sv, vh = torch.linalg.svd(rows, full_matrices=False)
    explained = sv**2 / (sv**2).sum()
    directions = []
    for i in range(k):
        flat, out, offset = vh[i], {}, 0
        for n in names:
            size = center[n].numel()
            out[n] = flat[offset : offset + size].view_as(center[n]).to(center[n].device, center[n].dtype)
            offset += size
        directions.append(out)
    return directions, explained[:k]


def project(
    state: Mapping[str, torch.Tensor], center: Mapping[str, torch.Tensor], directions: Sequence[Direction]
) -> tuple[float, ...]:
    """Coordinates of `state - center` in the plane of `directions` (least squares: they need not be
    orthogonal), e.g. to draw the training trajectory on a random-direction plane."""
    names = list(directions[0])
    diff = torch.cat([(state[n].float() - center[n].float()).flatten().cpu() for n in names])
    basis = torch.stack([torch.cat([d[n].float().flatten().cpu() for n in names]) for d in directions], dim=1)
    coords = torch.linalg.lstsq(basis.double(), diff.double().unsqueeze(1)).solution.squeeze(1)
    return tuple(float(c) for c in coords)
