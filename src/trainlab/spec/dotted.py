"""Dotted keys (`optim.lr`) over nested dicts: how run entries, grids and `--set` address the config."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

from trainlab.errors import TrainlabError
from trainlab.spec.yaml_text import load_yaml


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'optim': {'lr': 1}} -> {'optim.lr': 1}; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set tree[a][b] = value for 'a.b', creating intermediate dicts."""
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = copy.deepcopy(value)


def parse_assignment(text: str) -> tuple[str, Any]:
    """'optim.lr=0.05' -> ('optim.lr', 0.05); values are read as YAML scalars or lists."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise TrainlabError(f"--set {text!r}: expected KEY=VALUE, e.g. --set optim.lr=0.05")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value
