"""Optimizer factories: build(params, OptimConfig) -> torch.optim.Optimizer."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from trainlab.spec.config import OptimConfig

Params = Iterable[torch.nn.Parameter]


def sgd(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Plain SGD: `momentum` is ignored (use `momentum` or `nesterov` for that)."""
    return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def momentum(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """SGD with heavy-ball momentum (Polyak 1964)."""
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def nesterov(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Nesterov accelerated gradient, in PyTorch's formulation (Sutskever et al. 2013)."""
    return torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
    )


def adam(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015); weight decay, if any, is L2 added to the gradient."""
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def adamw(params: Params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """AdamW: decoupled weight decay (Loshchilov & Hutter 2019)."""
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
