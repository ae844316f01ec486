"""Facts about the machine that change how a computation must run (not what it computes)."""

from __future__ import annotations

import functools


@functools.cache
def cpu_has_native_bf16() -> bool:
    """oneDNN's check for native bf16 instructions (AVX-512 BF16, AMX); absent from some builds."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
KEEP_FREED_BYTES = 2**31 - 1  # mallopt takes a C int: the most free memory the heap keeps before giving some back


@functools.cache
def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed memory for reuse (True where it took the settings; False where the C
    library is not glibc: macOS, musl). By default glibc gives every block of over 32 MB back to the system
    when it is freed (mmap and munmap), so a loop that allocates and frees blocks that large at every step
    pays the page faults of fresh memory each time: a packed step of 64 LeNet-300-100 on a CPU (each stacked
    gradient 60 MB) spent a third of its time there; 200 steps of such a pack took 28-29 s with these settings
    against 37-44 s without, the same runs one at a time 38 s either way. Every allocation then comes from the
    heap, and memory freed stays with the process (up to 2 GB unused before any is given back): the process
    keeps its peak size. Process-wide, once."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES))
