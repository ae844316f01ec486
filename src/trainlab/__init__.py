"""trainlab: one YAML study in, every run trained, measured, stored and reported.

The public names load lazily, so `import trainlab.spec` stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "TrainlabError": "trainlab.errors",
    "load_study": "trainlab.studies.catalog",
    "open_store": "trainlab.store",
    "check_study": "trainlab.api",
    "run_study": "trainlab.api",
    "report_study": "trainlab.api",
    "track": "trainlab.api.track",
    "landscape": "trainlab.api.model_landscape",
    "Ticket": "trainlab.api.model_lottery",
    **{
        f"register_{what}": "trainlab.plugins" for what in ("model", "dataset", "task", "optimizer", "schedule", "kind")
    },
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'trainlab' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
