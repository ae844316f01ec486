"""What the CLI and notebooks call, one module per command: check, run, report, ls, show, landscape,
scaling-fit, serve, clip-score.

Each name is imported on first use (PEP 562), so a command pays only for its own imports: `trainlab run`
does not load pandas and plotly, which only the report, ls and the dashboard need (about 0.5 s of every start)."""

from __future__ import annotations

import importlib
from typing import Any

# Eager: these two functions share their module's name, and a lazy attribute would be shadowed by the
# submodule itself once anything imports it. Neither imports pandas or plotly.
from trainlab.api.landscape import landscape as landscape
from trainlab.api.serve import serve as serve

_HOMES = {
    "check_study": "check",
    "pack_plan": "check",
    "planned_runs": "check",
    "plugins_used": "check",
    "score_captions": "clip",
    "DEFAULT_STORE": "common",
    "as_study": "common",
    "store_root": "common",
    "run_summaries": "ls",
    "report_study": "report",
    "run_study": "run",
    "scaling_fit": "scaling",
    "describe_run": "show",
}
_TYPE_HOMES = {"Outcome": "trainlab.execution.units", "PlanLine": "trainlab.studies.kind"}

__all__ = sorted([*_HOMES, *_TYPE_HOMES, "landscape", "serve"])


def __getattr__(name: str) -> Any:
    if name in _TYPE_HOMES:
        return getattr(importlib.import_module(_TYPE_HOMES[name]), name)
    if name in _HOMES:
        return getattr(importlib.import_module(f"trainlab.api.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'trainlab.api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
