"""What benchmarks share: the JSON line that ends the loop-overhead ones, the best time of a piece of work."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def overhead_result(benchmark: str, ours: list[float], theirs: list[float], **extra: object) -> dict[str, object]:
    """Median tokens/s of trainlab's loop and of the minimal loop over the rounds, and their ratio."""
    return {
        "benchmark": benchmark,
        "ratio_vs_minimal_loop": round(statistics.median(ours) / statistics.median(theirs), 3),
        "trainlab_tokens_per_s": round(statistics.median(ours)),
        "minimal_tokens_per_s": round(statistics.median(theirs)),
        **extra,
        "threads": torch.get_num_threads(),
    }


def best_seconds(work: Callable[[], object], rounds: int, repeats: int = 1) -> float:
    """Seconds of one `work()`: the best of `rounds` means over `repeats` calls, after one untimed call
    (allocations, lazy initialisation)."""
    work()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeats):
            work()
        best = min(best, (time.perf_counter() - t0) / repeats)
    return best
