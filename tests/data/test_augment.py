"""Batched augmentation: each op does what it says, per image, reproducibly from its generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainlab.data.augment import augment


def images(n: int = 16) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 255


def test_hflip_flips_about_half_the_images_exactly() -> None:
    """Every output is its input or the input mirrored left-right; both occur."""
    x = images(64)
    out = augment(x, ["hflip"], torch.Generator().manual_seed(1))
    same = [torch.allclose(o, i, atol=1e-4) for o, i in zip(out, x)]
    flipped = [torch.allclose(o, i.flip(-1), atol=1e-4) for o, i in zip(out, x)]
    assert all(s or f for s, f in zip(same, flipped)) and 10 < sum(flipped) < 54


def test_crop_is_a_padded_shift_by_whole_pixels() -> None:
    """Each output equals zero-padding by p then cropping at some offset in [0, 2p]."""
    x, p = images(), 2
    out = augment(x, ["crop"], torch.Generator().manual_seed(2), padding=p)
    padded = F.pad(x, (p, p, p, p))
    for o, pad in zip(out, padded):
        crops = [pad[:, i : i + 8, j : j + 8] for i in range(2 * p + 1) for j in range(2 * p + 1)]
        assert any(torch.equal(o, c) for c in crops)


def test_resized_crop_with_full_scale_and_square_ratio_is_identity() -> None:
    """scale (1, 1) and ratio (1, 1) leave every image unchanged; smaller scales zoom in."""
    x = images()
    same = augment(x, ["resized_crop"], torch.Generator().manual_seed(3), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    torch.testing.assert_close(same, x, atol=1e-3, rtol=0)
    zoomed = augment(x, ["resized_crop"], torch.Generator().manual_seed(3), scale=(0.5, 0.5), ratio=(1.0, 1.0))
    assert not torch.allclose(zoomed, x, atol=1.0)


def test_same_generator_same_augmentation() -> None:
    """Seeded per run: the same generator state gives the same batch; another gives another."""
    x, ops = images(), ["hflip", "crop", "resized_crop"]
    a = augment(x, ops, torch.Generator().manual_seed(4))
    b = augment(x, ops, torch.Generator().manual_seed(4))
    c = augment(x, ops, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == x.shape
