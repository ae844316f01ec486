"""One seed per run, split into named streams (init, data order, dropout) so each is reproducible alone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for one named stream of a run's randomness."""
    digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(seed: int, stream: str) -> torch.Generator:
    """A CPU generator for one stream (data order is drawn on the CPU, then moved)."""
    return torch.Generator().manual_seed(stream_seed(seed, stream))


@contextmanager
def private_global_rng(device: torch.device) -> Iterator[None]:
    """Let a run seed torch's global RNG (module init, dropout) and restore the caller's state after."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
