"""Facts about the machine that change how a computation must run (not what it computes)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@functools.cache
def cpu_has_native_bf16() -> bool:
    """oneDNN's check for native bf16 instructions (AVX-512 BF16, AMX); absent from some builds."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
KEEP_FREED_BYTES = 2**31 - 1  # mallopt takes a C int: the most free memory the heap keeps before giving some back
# what glibc's own adjustment raises its thresholds to at most on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX,
# and twice that for trimming), and its default count of mmapped blocks
MMAP_THRESHOLD_CEILING, MMAP_MAX_DEFAULT = 32 * 2**20, 65536


@functools.cache
def _glibc_malloc() -> tuple[Callable[[int, int], int], Callable[[int], int]] | None:
    """glibc's mallopt and malloc_trim, or None where the C library is not glibc (macOS, musl, Windows)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        return libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


@contextmanager
def freed_memory_kept(device: torch.device) -> Iterator[bool]:
    """Inside, on a CPU `device`, glibc's malloc keeps memory freed for reuse (yields whether it took the
    settings; False on other devices, whose allocators cache blocks themselves, and where the C library is not
    glibc). Every training round runs inside, alone or packed. By default glibc gives each freed block of over
    32 MB back to the system (munmap), and the free top of its heap past twice its threshold, so a loop that
    allocates and frees large blocks at every step pays the page faults of fresh memory each step: kept, 200
    steps of a pack of 64 LeNet-300-100 took 23.3 s against 28.1 s, and a step of the POSTECH Transformer
    alone 3.6 s against 4.1-4.5 s (README). On leaving, the freed memory goes back to the system
    (malloc_trim), so the next round's peak memory starts from what is in use, and the thresholds are left
    where glibc's own adjustment takes them at most (setting any of them ends that adjustment)."""
    calls = _glibc_malloc() if device.type == "cpu" else None
    mallopt, malloc_trim = calls if calls else (None, None)
    kept = bool(mallopt and mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES))
    try:
        yield kept
    finally:
        if kept:
            mallopt(M_MMAP_MAX, MMAP_MAX_DEFAULT)
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_CEILING)
            mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_CEILING)
            malloc_trim(0)
