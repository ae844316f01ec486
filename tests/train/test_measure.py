"""Measurement helpers: the CPU resident-memory peak is per epoch, not per process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainlab.train.measure import peak_rss_mb, reset_peak_memory


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable VmHWM")
def test_peak_rss_resets_between_epochs() -> None:
    """A 400 MB tensor raises the peak; after a reset the peak is back near the current size."""
    cpu = torch.device("cpu")
    reset_peak_memory(cpu)
    base = peak_rss_mb()
    big = torch.ones(100_000_000)
    big.add_(1)
    assert peak_rss_mb() > base + 300
    del big
    reset_peak_memory(cpu)
    assert peak_rss_mb() < base + 100
