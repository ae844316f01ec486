"""manifest.json: what produced a run (spec, code version, libraries, device, times)."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from trainlab.files import write_text_atomic
from trainlab.hardware import cpu_has_native_bf16


def git_state(folder: Path | None) -> dict[str, Any]:
    """Commit and dirty flag of the git repository holding `folder` (None outside a repository)."""
    if folder is None:
        return {"commit": None, "dirty": None}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def library_versions() -> dict[str, str]:
    import numpy
    import torch

    import trainlab

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "trainlab": trainlab.__version__,
    }


def device_facts(device: Any) -> dict[str, Any]:
    """What ran the run: the device, its model name, threads, and whether bf16 is native there."""
    import torch

    if device.type == "cuda":
        name, bf16 = torch.cuda.get_device_name(device), torch.cuda.is_bf16_supported()
    else:
        name, bf16 = _cpu_model(), cpu_has_native_bf16()
    return {"device": str(device), "device_name": name, "threads": torch.get_num_threads(), "native_bf16": bf16}


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())


def write_manifest(path: Path, **fields: Any) -> None:
    """Merge `fields` into manifest.json (start and end of a run write different fields)."""
    manifest = json.loads(path.read_text()) if path.exists() else {}
    manifest.update(fields)
    write_text_atomic(path, json.dumps(manifest, indent=2, default=str))


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
