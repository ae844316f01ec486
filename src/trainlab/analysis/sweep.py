"""Hyperparameter sweeps, read from stored runs (pandas only; the report and the dashboard share it).

Which keys a study swept; the runs grouped by the values of its categorical keys (the optimizer, say);
per experiment, the best validation metric with its interval over seeds; the metric as a function of a
numeric key within each group (each value at the best setting of the other numeric keys); each group's
best setting and runner-up, the protocol of DeepOBS (Schneider et al. 2019) and AlgoPerf (Dahl et al.
2023): compare optimizers each at its own best hyperparameters; and their ranking at one setting they
share, which is what a study without tuning would have reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Number
from typing import Any

import numpy as np
import pandas as pd

from trainlab.analysis.stats import MeanCI, mean_ci
from trainlab.spec.labels import value_text

METRIC = "valid_metric"  # the run summary's best validation value of the main metric


@dataclass(frozen=True)
class SweptKeys:
    """The config keys a study varies: numeric ones (a response curve each) and the others (groups).
    `follows` maps a numeric key to the one it varies with one to one (train.steps with model.width in a
    ladder), which gets no curve of its own."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    follows: Mapping[str, str]


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, (bool, np.bool_))


def _distinct(values: pd.Series) -> int:
    return len({repr(v) for v in values if not _missing(v)})


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def swept_keys(runs: pd.DataFrame) -> SweptKeys:
    """Keys that take two or more values across the runs (from each run's `changes`, in order)."""
    per_experiment = runs.drop_duplicates("experiment")
    keys = [k for k in dict.fromkeys(k for changes in per_experiment["changes"] for k in changes) if k in runs]
    varied = [k for k in keys if _distinct(per_experiment[k]) >= 2]
    numeric = [k for k in varied if all(_is_number(v) for v in per_experiment[k] if not _missing(v))]
    categorical = [k for k in varied if k not in numeric]
    # a number fixed within each group (AdamW's weight decay beside SGD's 0) is part of the group, not swept
    groups = group_names(per_experiment, categorical)
    numeric = [k for k in numeric if per_experiment.groupby(groups)[k].agg(_distinct).max() >= 2]
    follows: dict[str, str] = {}
    for i, key in enumerate(numeric):
        for leader in numeric[:i]:
            if leader not in follows and _one_to_one(per_experiment[leader], per_experiment[key]):
                follows[key] = leader
                break
    return SweptKeys(tuple(k for k in numeric if k not in follows), tuple(categorical), follows)


def _one_to_one(a: pd.Series, b: pd.Series) -> bool:
    pairs = {(repr(x), repr(y)) for x, y in zip(a, b)}
    return len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs})


def group_names(runs: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Each run's group, named as the study names it: the part of the experiment labels that every run of
    the group shares and no other group has ('Nesterov 0.9' of 'Nesterov 0.9, lr 1e-2', 'Nesterov 0.9, lr
    1e-1', ...), so a figure's legend, a table and a finding call a group alike; where the labels do not
    name each group apart, or a group has one experiment (its whole label would name its other settings
    too), the values of `keys` in short form ('adam', 'adam, relu'); 'all' without keys."""
    if not keys:
        return pd.Series("all", index=runs.index)
    texts = [runs[k].map(lambda v: "" if _missing(v) else value_text(v)) for k in keys]
    joined = texts[0]
    for more in texts[1:]:
        joined = joined.str.cat(more, sep=", ").str.strip(", ")
    if "label" not in runs:
        return joined
    labels = runs["label"].groupby(joined)
    named = {group: _shared_label(members) for group, members in labels}
    several = bool((labels.nunique() > 1).all())
    if several and all(named.values()) and len(set(named.values())) == len(named):
        return joined.map(named)
    return joined


def _shared_label(labels: pd.Series) -> str:
    """The leading parts (', '-separated) that all these experiment labels share."""
    parts = [str(label).split(", ") for label in labels.unique()]
    shared = []
    for column in zip(*parts):
        if len(set(column)) > 1:
            break
        shared.append(column[0])
    return ", ".join(shared)


def experiment_table(runs: pd.DataFrame, group_keys: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """One row per experiment: number, label, group, the values of `keys`, and the best validation metric
    over its seeds (mean, low, high, n: mean ± 95 % Student-t interval)."""
    runs = runs.assign(group=group_names(runs, group_keys))
    rows = []
    for number, members in runs.groupby("experiment", sort=True):
        stat = mean_ci(members[METRIC].tolist())
        first = members.iloc[0]
        rows.append(
            {
                "experiment": int(number),
                "label": str(first["label"]),
                "group": first["group"],
                **{k: first[k] for k in keys},
                "stat": stat,
                "mean": stat.mean,
            }
        )
    return pd.DataFrame(rows)


def _best_first(table: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Experiments ordered best first (NaN means last); ties keep experiment order."""
    key = -table["mean"] if mode == "max" else table["mean"]
    return (
        table.assign(_key=key.fillna(math.inf)).sort_values(["_key", "experiment"], kind="stable").drop(columns="_key")
    )


def response(table: pd.DataFrame, key: str, mode: str) -> dict[str, pd.DataFrame]:
    """Group -> the metric against `key` (rows sorted by its value): at each value, the experiment whose
    other hyperparameters do best there (a profile, so a second swept key never hides the first)."""
    out = {}
    for group, members in table.groupby("group", sort=False):
        best = _best_first(members, mode).drop_duplicates(key)
        out[str(group)] = best.sort_values(key).reset_index(drop=True)
    return out


def grid_means(table: pd.DataFrame, x: str, y: str, mode: str) -> dict[str, pd.DataFrame]:
    """Group -> the mean metric over (y rows, x columns), each cell at the best setting of any other key."""
    out = {}
    for group, members in table.groupby("group", sort=False):
        best = _best_first(members, mode).drop_duplicates([x, y])
        out[str(group)] = best.pivot(index=y, columns=x, values="mean").sort_index().sort_index(axis=1)
    return out


@dataclass(frozen=True)
class GroupBest:
    """A group's best experiment and its runner-up (the second-best setting in the same group)."""

    group: str
    best: pd.Series
    runner_up: pd.Series | None
    experiments: int


def best_settings(table: pd.DataFrame, mode: str) -> list[GroupBest]:
    """Each group at its best setting, best group first."""
    out = []
    for group, members in table.groupby("group", sort=False):
        ranked = _best_first(members.dropna(subset=["mean"]), mode)
        if len(ranked):
            out.append(GroupBest(str(group), ranked.iloc[0], ranked.iloc[1] if len(ranked) > 1 else None, len(members)))
    sign = -1 if mode == "max" else 1
    return sorted(out, key=lambda g: sign * g.best["mean"])


def shared_setting(
    table: pd.DataFrame,
    keys: Sequence[str],
    preferred: Mapping[str, Any],
    mode: str,
) -> tuple[dict[str, Any], list[tuple[str, MeanCI]]] | None:
    """A setting of `keys` that every group ran, and the groups ranked there. The study's base values when
    every group has them (what an untuned comparison uses), else the shared setting that is best on
    average over the groups. None when no setting is shared (or there is a single group)."""
    if table["group"].nunique() < 2 or not keys:
        return None
    settings = table[list(keys)].apply(lambda row: tuple(repr(v) for v in row), axis=1)
    table = table.assign(_setting=settings)
    per_group = table.groupby("group")["_setting"].agg(set)
    common = set.intersection(*per_group)
    if not common:
        return None
    wanted = tuple(repr(preferred.get(k)) for k in keys)
    if wanted in common:
        chosen = wanted
    else:
        average = table[table["_setting"].isin(common)].groupby("_setting")["mean"].mean()
        chosen = average.idxmax() if mode == "max" else average.idxmin()
    at = _best_first(table[table["_setting"] == chosen], mode).drop_duplicates("group")
    setting = {k: at.iloc[0][k] for k in keys}
    return setting, [(str(r.group), r.stat) for r in at.itertuples()]


def separated(a: MeanCI, b: MeanCI) -> bool:
    """True when two 95 % intervals over 2+ seeds each do not overlap (single seeds separate nothing)."""
    return a.n >= 2 and b.n >= 2 and (a.low > b.high or b.low > a.high)
