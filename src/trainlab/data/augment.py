"""Batched image augmentation with torch ops, seeded per run (no torchvision, no per-image Python).

Random crops (with zero padding) and random resized crops are both an affine resampling of each image,
so one `grid_sample` call transforms the whole batch: crop boxes are drawn per image, then mapped to
sampling grids. Horizontal flips negate the grid's x axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

Augmentation = Literal["hflip", "crop", "resized_crop"]


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


def _resized_crop_boxes(
    n: int, scale: tuple[float, float], ratio: tuple[float, float], g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Box width and height as fractions of the image, and centres in [-1, 1] coordinates.

    Area fraction ~ U(scale), log aspect ratio ~ U(log ratio), as torchvision's RandomResizedCrop;
    boxes that would not fit are clipped to the image (torchvision retries, then falls back to a
    centre crop: a difference only for extreme scale/ratio settings).
    """
    area = _uniform(n, *scale, g)
    aspect = torch.exp(_uniform(n, math.log(ratio[0]), math.log(ratio[1]), g))
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = _uniform(n, -1, 1, g) * (1 - w)
    cy = _uniform(n, -1, 1, g) * (1 - h)
    return w, h, cx, cy


def augment(
    x: torch.Tensor,
    ops: Sequence[Augmentation],
    g: torch.Generator,
    padding: int = 4,
    scale: tuple[float, float] = (0.8, 1.0),
    ratio: tuple[float, float] = (0.9, 1.1),
) -> torch.Tensor:
    """x: (B, C, H, W) float. Returns the augmented batch (same shape); randomness from `g` (CPU)."""
    B, _, H, W = x.shape
    if set(ops) == {"hflip"}:  # no resampling needed: select between the batch and its mirror
        flip = (torch.rand(B, generator=g) < 0.5).to(x.device, non_blocking=True).view(B, 1, 1, 1)
        return torch.where(flip, x.flip(-1), x)
    w, h = torch.ones(B), torch.ones(B)
    cx, cy = torch.zeros(B), torch.zeros(B)
    mode = "bilinear"
    if "resized_crop" in ops:
        w, h, cx, cy = _resized_crop_boxes(B, scale, ratio, g)
    if "crop" in ops:  # shift by whole pixels within the zero padding: pad + random crop
        mode = "nearest" if "resized_crop" not in ops else mode
        cx = cx + torch.randint(-padding, padding + 1, (B,), generator=g) * 2 / W
        cy = cy + torch.randint(-padding, padding + 1, (B,), generator=g) * 2 / H
    flip = torch.where(torch.rand(B, generator=g) < 0.5, -1.0, 1.0) if "hflip" in ops else torch.ones(B)
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    # non_blocking: a plain host-to-GPU copy would make every batch wait for the GPU to finish the last step
    grid = F.affine_grid(theta.to(x.device, non_blocking=True), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
