"""Masks for lottery tickets (Frankle & Carbin 2019): which weights are prunable, magnitude pruning per
layer or globally, random masks of the same per-layer sparsity, and the hook that keeps pruned weights
at exactly zero.

Pruned weights are zeroed once when the mask is applied and again after every optimizer step (w <- w·m):
gradients and optimizer state of pruned weights are left as they are, since whatever the optimizer does
to a pruned weight is undone before anything reads it (evaluation, checkpoints, the next forward pass).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.studies.lottery.section import PruneSpec
from trainlab.train import Hook, Loop, checkpoint

Mask = dict[str, torch.Tensor]  # parameter name -> bool tensor, True where the weight survives
PRUNABLE_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def prunable(model: nn.Module, patterns: tuple[str, ...] = ()) -> dict[str, nn.Parameter]:
    """The parameters pruning may touch: those matching `patterns`, or by default the weights of Linear
    and Conv layers (attention projections included), never biases, norms, positions, nor embeddings
    (an output layer tied to an embedding is an embedding)."""
    params = dict(model.named_parameters())
    if patterns:
        chosen = {n: p for n, p in params.items() if any(fnmatch.fnmatchcase(n, pat) for pat in patterns)}
        unmatched = [pat for pat in patterns if not any(fnmatch.fnmatchcase(n, pat) for n in params)]
        if unmatched:
            raise TrainlabError(
                f"lottery.prunable: {unmatched[0]!r} matches no parameter; parameters: {', '.join(params)}"
            )
        return chosen
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return {
        f"{name}.weight" if name else "weight": m.weight
        for name, m in model.named_modules()
        if isinstance(m, PRUNABLE_MODULES)
        and id(m.weight) not in embeddings
        and (f"{name}.weight" if name else "weight") in params
    }


def check_layer_amounts(params: Mapping[str, nn.Parameter], spec: PruneSpec) -> None:
    """Each pattern of `lottery.layer_fractions` names some prunable parameter (as `lottery.prunable`'s must):
    a fraction that applies nowhere is a mistake, not a default."""
    for pattern, _ in spec.layer_amounts:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in params):
            raise TrainlabError(
                f"lottery.layer_fractions: {pattern!r} matches no prunable parameter; prunable: {', '.join(params)}"
            )


def _amount(name: str, spec: PruneSpec) -> float:
    return next((a for pat, a in spec.layer_amounts if fnmatch.fnmatchcase(name, pat)), spec.amount)


def magnitude_mask(
    weights: Mapping[str, torch.Tensor], previous: Mapping[str, torch.Tensor] | None, spec: PruneSpec
) -> Mask:
    """Remove the smallest-magnitude `amount` of each tensor's surviving weights (scope layer), or of all
    surviving prunable weights together (scope global); ties go to the lower index."""
    alive = {n: previous[n].clone() if previous else torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    scores = {n: w.detach().abs().float().masked_fill(~alive[n], float("inf")) for n, w in weights.items()}
    if spec.scope == "global":
        flat = torch.cat([s.flatten() for s in scores.values()])
        k = round(spec.amount * int(sum(a.sum() for a in alive.values())))
        cut = torch.zeros_like(flat, dtype=torch.bool)
        cut[torch.topk(flat, k, largest=False, sorted=False).indices] = True
        return {
            n: a & ~piece.view_as(a)
            for (n, a), piece in zip(alive.items(), cut.split([s.numel() for s in scores.values()]))
        }
    for name, score in scores.items():
        k = round(_amount(name, spec) * int(alive[name].sum()))
        cut = torch.topk(score.flatten(), k, largest=False, sorted=False).indices
        alive[name].view(-1)[cut] = False
    return alive


def random_mask_like(reference: Mapping[str, torch.Tensor], seed: int) -> Mask:
    """Keep as many weights per tensor as `reference` does, at uniformly random places."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, ref in reference.items():
        keep = torch.randperm(ref.numel(), generator=g)[: int(ref.sum())]
        mask = torch.zeros(ref.numel(), dtype=torch.bool)
        mask[keep] = True
        out[name] = mask.view_as(ref).to(ref.device)
    return out


def check_shapes(mask: Mapping[str, torch.Tensor], params: Mapping[str, nn.Parameter], where: str) -> None:
    for name, m in mask.items():
        if name not in params or params[name].shape != m.shape:
            got = tuple(params[name].shape) if name in params else "no such parameter"
            raise TrainlabError(f"{where}: mask {name} has shape {tuple(m.shape)}, the model has {got}")


def make_mask(model: nn.Module, spec: PruneSpec, source: Path, device: torch.device) -> Mask:
    """The mask of a run that prunes the run in folder `source` (its last weights, its own mask if any)."""
    params = prunable(model, spec.prunable)
    previous = checkpoint.load(source / "mask.pt", device) if (source / "mask.pt").exists() else None
    if previous is not None:
        check_shapes(previous, params, f"mask of run {source.name}")
    if spec.method != "magnitude":
        previous = previous or {n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()}
        return previous if spec.method == "same" else random_mask_like(previous, spec.seed)
    trained = checkpoint.load_weights(source / "last.pt", device)
    return magnitude_mask({n: trained[n] for n in params}, previous, spec)


def remaining(mask: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Fraction of weights kept, per tensor and in all ('total')."""
    kept, total = sum(int(m.sum()) for m in mask.values()), sum(m.numel() for m in mask.values())
    return {**{n: int(m.sum()) / m.numel() for n, m in mask.items()}, "total": kept / total}


def apply(model: nn.Module, mask: Mapping[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, m in mask.items():
            params[name].mul_(m)


class KeepPruned(Hook):
    """After every optimizer step, pruned weights go back to exactly zero."""

    def __init__(self, model: nn.Module, mask: Mapping[str, torch.Tensor]) -> None:
        params = dict(model.named_parameters())
        self.named = {n: m.to(params[n].dtype) for n, m in mask.items()}
        self.pairs = [(params[n], m) for n, m in self.named.items()]

    def masks(self) -> Mapping[str, torch.Tensor]:
        return self.named

    @torch.no_grad()
    def on_step(self, loop: Loop, loss: torch.Tensor) -> None:
        for p, m in self.pairs:
            p.mul_(m)
