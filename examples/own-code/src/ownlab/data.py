"""`rings`: points on noisy concentric circles in 2D, the class being the ring; generated from a seed, so
the same options give the same data on any machine (no download)."""

from __future__ import annotations

import math

import torch

from trainlab.data import DataBundle, DataInfo, TensorSplit


def make_rings(n: int, rings: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, rings, (n,), generator=g)
    angle = torch.rand(n, generator=g) * 2 * math.pi
    radius = 1.0 + y.float() + noise * torch.randn(n, generator=g)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1), y


def rings(n: int = 1200, rings: int = 3, noise: float = 0.3, seed: int = 0) -> DataBundle:
    """3/4 of the points to train on, 1/4 to validate on; scored by this package's task."""
    x, y = make_rings(n, rings, noise, seed)
    cut = n * 3 // 4
    info = DataInfo("smoothed_classification", (2,), rings)
    return DataBundle(info, TensorSplit(x[:cut], y[:cut]), TensorSplit(x[cut:], y[cut:]))
