"""What the loop-overhead benchmarks share: the JSON line that ends them."""

from __future__ import annotations

import statistics

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
