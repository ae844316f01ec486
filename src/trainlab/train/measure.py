"""Clocks, memory and parameter counts: what users trust trainlab to measure."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import torch
from torch import nn


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so a clock read covers it (CUDA kernels run asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Accumulates seconds over start/stop pairs, synchronising the device at each read (not per step:
    a sync per step would stop the host from queueing the next step while the GPU computes)."""

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


PROC_STATUS, PROC_CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset: Linux's VmHWM (resettable, see
    reset_peak_memory), else ru_maxrss (the peak over the process's life; KiB on Linux, bytes on macOS)."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak: the CUDA allocator's, or the process's resident peak (writing 5 to
    /proc/self/clear_refs resets VmHWM on Linux), so each epoch and each run gets its own."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        PROC_CLEAR_REFS.write_text("5")
    except OSError:
        pass  # not Linux, or not permitted: the peak stays the process's lifetime peak


def memory_metrics(device: torch.device) -> dict[str, float]:
    """Peak memory since the last reset: allocator peaks on CUDA, peak RSS of the process on CPU."""
    if device.type == "cuda":
        return {
            "peak_allocated_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "peak_reserved_mb": torch.cuda.max_memory_reserved(device) / 2**20,
        }
    return {"peak_rss_mb": peak_rss_mb()}


def parameters_by_module(model: nn.Module) -> dict[str, int]:
    """Parameters of each top-level child module (shared tensors counted where first seen)."""
    seen: set[int] = set()
    counts = {}
    for name, child in model.named_children():
        params = [p for p in child.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        counts[name] = sum(p.numel() for p in params)
    return counts


def analytic_memory_mb(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """Bytes the model's state must occupy: parameters, their gradients (trainable ones) and optimizer
    state (e.g. Adam's two moments). Activations and workspace are the rest of the measured peak."""
    params = list(model.parameters())
    state = [t for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    mb = 2**20
    return {
        "parameters_mb": sum(p.numel() * p.element_size() for p in params) / mb,
        "gradients_mb": sum(p.numel() * p.element_size() for p in params if p.requires_grad) / mb,
        "optimizer_state_mb": sum(t.numel() * t.element_size() for t in state) / mb,
    }


class GPUSampler:
    """Device memory used (what nvidia-smi shows) and utilisation, sampled by NVML in a thread.

    Optional: needs `nvidia-ml-py` and a CUDA device; otherwise it records nothing.
    """

    def __init__(self, device: torch.device, interval_s: float = 0.5) -> None:
        self.samples: list[tuple[float, float]] = []  # (used MB, utilisation %)
        self._handle = None
        if device.type != "cuda":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
        except Exception:  # noqa: BLE001 - NVML missing or unusable: the allocator numbers remain
            self._handle = None
        self.interval_s = interval_s

    def __enter__(self) -> GPUSampler:
        if self._handle is not None:
            import threading

            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            memory = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
            util = self._nvml.nvmlDeviceGetUtilizationRates(self._handle)
            self.samples.append((memory.used / 2**20, float(util.gpu)))

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._stop.set()
            self._thread.join()

    def metrics(self) -> dict[str, float]:
        if not self.samples:
            return {}
        used, util = zip(*self.samples)
        return {"nvml_used_mb": max(used), "gpu_util_pct": sum(util) / len(util)}
