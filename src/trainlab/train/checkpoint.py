"""Checkpoints: written atomically (temp file + rename), read back with weights_only=True.

`last.pt` keeps its predecessor as `last.prev.pt`: a newest checkpoint damaged after it was written
(a truncated copy, a disk error) costs one epoch instead of the run.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import TrainlabError
from trainlab.files import write_atomic


class CheckpointError(TrainlabError):
    """A checkpoint file that cannot be read back."""


def save_atomic(obj: Any, path: Path) -> None:
    """A crash mid-write leaves the previous file intact: write beside it, then rename over it."""
    write_atomic(path, lambda f: torch.save(obj, f), tensor_bytes(obj))


def save_keeping_previous(obj: Any, path: Path) -> None:
    """Replace `path`, keeping the file it replaces as its `previous`; the new file is complete on
    disk before the old one moves, so a good checkpoint exists at every instant."""
    new = path.with_name(path.stem + ".next" + path.suffix)
    save_atomic(obj, new)
    if path.exists():
        os.replace(path, previous(path))
    os.replace(new, path)


def previous(path: Path) -> Path:
    return path.with_name(path.stem + ".prev" + path.suffix)


def load(path: Path, device: torch.device) -> Any:
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        reason = str(err).split("\n")[0][:120] or type(err).__name__
        raise CheckpointError(f"{path}: unreadable checkpoint ({reason})") from None


def load_weights(path: Path, device: torch.device) -> dict[str, torch.Tensor]:
    """The model weights in a checkpoint: a state dict, or the `model` part of a last.pt snapshot."""
    saved = load(path, device)
    return saved["model"] if "model" in saved and "optimizer" in saved else saved


def file_name(which: str) -> str:
    """The file of a checkpoint in a run's folder: init, best, last, epoch:K or step:K."""
    kind, _, number = which.partition(":")
    return f"{kind}_{number}.pt" if number else f"{kind}.pt"


def load_newest(path: Path, device: torch.device) -> tuple[Any | None, list[str]]:
    """The newest readable of `path` and its previous, and one note per unreadable one skipped."""
    notes = []
    for candidate in (path, previous(path)):
        if candidate.exists():
            try:
                return load(candidate, device), notes
            except CheckpointError as err:
                notes.append(str(err))
    return None, notes


def tensor_bytes(obj: Any) -> int:
    """Bytes of the tensors in a (nested) checkpoint: what writing it needs, about."""
    if torch.is_tensor(obj):
        return obj.nelement() * obj.element_size()
    if isinstance(obj, dict):
        return tensor_bytes(obj.values())
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes)):
        return sum(tensor_bytes(v) for v in obj)
    return 0
