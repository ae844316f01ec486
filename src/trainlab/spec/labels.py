"""Readable names of experiments: the study's own `label:`s, or names generated from the keys it sweeps.

A sweep of 60 runs named `optim.name=nesterov optim.lr=0.001` tells a reader little, and `base` tells
nothing; so an experiment is named by the values of the keys the study varies, in short form
(`nesterov, lr 1e-3`), the base's values spelled out like any other. A run entry may carry
`label: "..."` (it names what that entry changes) and a grid value may be written
`{value: 0.001, label: "lr 1e-3"}` (it names that value). Labels never enter a run's config or id.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

LABEL = "label"
BARE_NAMES = ("model.name", "optim.name", "data.name")  # "adam", not "optim adam"
SHORT = {"weight_decay": "wd", "batch_size": "batch", "learning_rate": "lr"}


def split_grid_value(value: Any) -> tuple[Any, str | None]:
    """A grid value as written: plain, or `{value: V, label: "..."}`; returns (V, its label or None)."""
    if isinstance(value, Mapping) and set(value) == {"value", LABEL}:
        return value["value"], str(value[LABEL])
    return value, None


def number_text(value: float) -> str:
    """0.001 -> '1e-3', 3e-4 -> '3e-4', 0.03 -> '0.03', 1.0 -> '1', 128 -> '128'."""
    if isinstance(value, int) or value == 0 or not math.isfinite(value):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if 0.01 <= abs(value) < 1e5:
        return f"{value:.6g}"
    mantissa, exponent = f"{value:.6e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Dotted key -> the name a label uses: its last part (abbreviated), or the whole key where two
    swept keys would share the short name (model.dropout and data.dropout)."""
    short = {k: SHORT.get(k.rsplit(".", 1)[-1], k.rsplit(".", 1)[-1]) for k in keys}
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {k: (k if s in clash else s) for k, s in short.items()}


def part(key: str, short: str, value: Any) -> str:
    """One key's piece of a label: 'adam', 'schedule plateau', 'lr 1e-3'."""
    if key in BARE_NAMES:
        return value_text(value)
    if key.endswith(".name"):
        return f"{key.split('.')[0]} {value_text(value)}"
    return f"{short} {value_text(value)}"


def experiment_label(
    swept: Sequence[str],
    values: Mapping[str, Any],
    given: Mapping[str, str],
    entry_label: str | None,
    entry_keys: Collection[str],
    fallback: Sequence[str],
) -> str:
    """The label of one experiment. `swept`: every key the study varies, in order; `values`: this
    experiment's resolved config (flat); `given`: labels of its grid values, by key; `entry_label`: its run
    entry's label, which stands for the keys the run entries set (`entry_keys`; the grid's are named
    after it). A study that sweeps nothing names its base by the `fallback` keys (model and optimizer)."""
    shorts = short_names(swept)
    parts = [entry_label] if entry_label else []
    for key in swept:
        if key in given:
            parts.append(given[key])
        elif not (entry_label and key in entry_keys) and values.get(key) is not None:  # unset options say nothing
            parts.append(part(key, shorts[key], values[key]))
    if not parts:
        parts = [part(k, k, values[k]) for k in fallback if k in values]
    return ", ".join(dict.fromkeys(parts))  # a value two keys name alike (an entry label and a grid label) once
