"""Facts about the machine that change how a computation must run (not what it computes)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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
def freed_memory_kept() -> Iterator[bool]:
    """Inside, glibc's malloc keeps memory freed for reuse (yields whether it took the settings; False where
    the C library is not glibc). By default glibc gives every freed block of over 32 MB back to the system
    (munmap), and the free top of its heap past twice its threshold, so a loop that allocates and frees such
    blocks at every step, as a CPU pack does with its stacked batches and gradients, pays the page faults of
    fresh memory each step: with these settings 200 steps of a pack of 64 LeNet-300-100 took 23.3 s against
    28.1 s, a round of 15 MLPs 784-128-10 about 13 % less (README). On leaving, the freed memory goes back to
    the system (malloc_trim), so the peak memory of what runs next starts from what is in use, and the
    thresholds are left where glibc's adjustment would take them at most (setting any of them ends that
    adjustment for the process)."""
    calls = _glibc_malloc()
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
