"""Checkpoints: written atomically (temp file + rename), read back with weights_only=True."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def save_atomic(obj: Any, path: Path) -> None:
    """A crash mid-write leaves the previous file intact: write beside it, then rename over it."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path, device: torch.device) -> Any:
    return torch.load(path, map_location=device, weights_only=True)
