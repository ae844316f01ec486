"""Clocks, memory and parameter counts: what users trust trainlab to measure."""

from __future__ import annotations

import resource
import sys
import time

import torch
from torch import nn


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so a clock read covers it (CUDA kernels run asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Accumulates seconds over start/stop pairs, synchronising the device at each read."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds, self._t0 = device, 0.0, None

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.seconds += time.perf_counter() - self._t0


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Total, trainable and non-embedding parameters (shared tensors, e.g. tied embeddings, counted once).

    Non-embedding excludes token and position embedding tables, as in Kaplan et al. (2020); it is the
    learnable count of the course models whose embeddings were pretrained and frozen.
    """
    params = list(model.parameters())  # .parameters() already deduplicates shared tensors
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return {
        "total": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in params if p.requires_grad),
        "non_embedding": sum(p.numel() for p in params if id(p) not in embedding_ids),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def memory_metrics(device: torch.device) -> dict[str, float]:
    """Peak memory since the last reset: allocator peaks on CUDA, peak RSS of the process on CPU."""
    if device.type == "cuda":
        return {
            "peak_allocated_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "peak_reserved_mb": torch.cuda.max_memory_reserved(device) / 2**20,
        }
    return {"peak_rss_mb": peak_rss_mb()}
