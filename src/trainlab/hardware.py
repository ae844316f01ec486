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
