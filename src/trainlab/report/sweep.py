"""What a hyperparameter sweep exists for: the metric against each swept numeric key (one line per group,
95 % bands over seeds, the best point marked), heat maps over two numeric keys, each group at its best
setting with its runner-up (DeepOBS's table), and whether groups rank alike tuned and untuned."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from trainlab.analysis.stats import MeanCI, mean_ci
from trainlab.analysis.sweep import best_settings, experiment_table, grid_means, response, separated, shared_setting
from trainlab.report.layout import colour, dashes, marker, metric_scale, width, wrapped_axes
from trainlab.report.records import StudyRecords
from trainlab.report.tables import Table
from trainlab.spec.dotted import flatten
from trainlab.spec.labels import value_text


def _table(records: StudyRecords) -> pd.DataFrame:
    return experiment_table(records.runs, records.group_keys, records.swept.numeric)


def _log_x(values: pd.Series) -> bool:
    """Log axis for a hyperparameter whose values are positive and span a decade or more."""
    v = values.to_numpy(dtype=float)
    return bool((v > 0).all() and v.max() / v.min() >= 10)


def response_figure(records: StudyRecords, key: str) -> Figure:
    """Best valid main metric against `key`, one line per group with its 95 % band, the best point starred."""
    table = _table(records)
    curves = response(table, key, records.mode)
    fig = Figure(figsize=(7.5, 4.6), layout="constrained")
    ax = fig.subplots()
    values = []
    for i, (group, rows) in enumerate(curves.items()):
        stats: list[MeanCI] = list(rows["stat"])
        n = max(s.n for s in stats)
        ax.plot(
            rows[key],
            rows["mean"],
            dashes(i),
            color=colour(i),
            linewidth=width(i, len(curves)),
            marker=marker(i),
            markersize=5,
            label=f"{group} (n={n})" if n > 1 else group,
        )
        if n > 1:
            ax.fill_between(
                rows[key], [s.low for s in stats], [s.high for s in stats], color=colour(i), alpha=0.15, linewidth=0
            )
        values += [v for s in stats for v in (s.mean, s.low, s.high)]
    best = table.dropna(subset=["mean"])
    if len(best):
        top = best.loc[best["mean"].idxmax() if records.mode == "max" else best["mean"].idxmin()]
        ax.plot([top[key]], [top["mean"]], "*", color="black", markersize=14, label=f"best: {top['label']}", zorder=5)
    if _log_x(table[key]):
        ax.set_xscale("log")
    ax.set_yscale(metric_scale(records.mode, values))
    ax.set_xlabel(key)
    ax.set_ylabel(f"best valid {records.main_metric}")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize="small")
    return fig


def heatmap_figure(records: StudyRecords, x: str, y: str) -> Figure:
    """Mean best valid metric over two numeric keys, one panel per group (at most 4 columns), each cell
    annotated and each panel's best cell outlined."""
    maps = grid_means(_table(records), x, y, records.mode)
    fig, axes = wrapped_axes(len(maps), width=3.8, height=3.3)
    finite = [v for m in maps.values() for v in m.to_numpy().ravel() if np.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0, 1)
    image = None
    for ax, (group, grid) in zip(axes, maps.items()):
        values = grid.to_numpy(dtype=float)
        image = ax.imshow(
            values,
            origin="lower",
            aspect="auto",
            cmap="viridis" if records.mode == "max" else "viridis_r",
            vmin=low,
            vmax=high,
        )
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize="x-small", color="white")
        if np.isfinite(values).any():
            i, j = np.unravel_index(
                np.nanargmax(values) if records.mode == "max" else np.nanargmin(values), values.shape
            )
            ax.add_patch(_outline(j, i))
        ax.set_xticks(range(len(grid.columns)), [value_text(v) for v in grid.columns], rotation=45, fontsize="small")
        ax.set_yticks(range(len(grid.index)), [value_text(v) for v in grid.index], fontsize="small")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(group, fontsize="medium")
    if image is not None:
        fig.colorbar(image, ax=axes, label=f"best valid {records.main_metric}")
    return fig


def _outline(x: float, y: float) -> Rectangle:
    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2)


def best_setting_table(records: StudyRecords) -> Table:
    """Per group (best first): its best hyperparameters, valid and test metric there, how many settings it
    tried, and its runner-up setting."""
    keys, metric = records.swept.numeric, records.main_metric
    table = _table(records)
    tests = records.runs.groupby("experiment")["test_metric"].apply(list)
    out = Table(
        "",
        [
            "rank",
            "group",
            "best setting",
            f"valid {metric}",
            f"test {metric}",
            "settings tried",
            "runner-up",
            f"runner-up valid {metric}",
        ],
    )
    for rank, g in enumerate(best_settings(table, records.mode), 1):
        test = mean_ci(tests.get(g.best["experiment"], []))
        runner = g.runner_up
        out.rows.append(
            [
                str(rank),
                g.group,
                _setting(g.best, keys),
                g.best["stat"].text(),
                test.text(),
                str(g.experiments),
                "-" if runner is None else _setting(runner, keys),
                "-" if runner is None else runner["stat"].text(),
            ]
        )
    out.bold = {(0, 3)}
    group_by = ", ".join(records.group_keys) or "none"
    out.caption = (
        f"Each group (grouped by {group_by}) at its own best setting of {', '.join(keys)}, by best valid "
        f"{metric} (mean ± 95 % CI over seeds; test on the best-valid checkpoint), and the group's "
        "second-best setting; best group first, in bold (the DeepOBS protocol: compare each at its best)."
    )
    return out


def _setting(row: pd.Series, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]} {value_text(row[k])}" for k in keys) or str(row["label"])


def sweep_findings(records: StudyRecords) -> list[str]:
    """Which group wins at its best setting, with the runner-up group; and whether the ranking at one
    shared setting (the base's, or the best shared one) says otherwise."""
    table, keys = _table(records), records.swept.numeric
    ranked = best_settings(table, records.mode)
    if len(ranked) < 2:
        return []
    first, second = ranked[0], ranked[1]
    tuned = " > ".join(f"{g.group} ({_setting(g.best, keys)}) {g.best['stat'].text()}" for g in ranked)
    sure = (
        "the two best are separated by their 95 % intervals"
        if separated(first.best["stat"], second.best["stat"])
        else "the two best overlap within their 95 % intervals (or have one seed), so the sweep does not separate them"
    )
    out = [f"At each group's best setting: {tuned}; {sure}."]
    base = flatten(records.spec.get("base") or {})
    shared = shared_setting(table, keys, base, records.mode)
    if shared:
        setting, order = shared
        where = ", ".join(f"{k} = {value_text(v)}" for k, v in setting.items())
        untuned = " > ".join(f"{g} {s.text()}" for g, s in order)
        same = [g for g, _ in order] == [g.group for g in ranked]
        verdict = "the same ranking" if same else "a different ranking: tuning each group changes the answer"
        out.append(f"At one shared setting ({where}): {untuned}, {verdict}.")
    return out


def sweep_section(records: StudyRecords, add_figure: Callable[[Figure, str, str], str]) -> str:
    """The best-setting table, the response figures (one per numeric key) and, for two or more numeric
    keys, the heat map of the first two, as HTML; `add_figure(fig, stem, caption)` saves and numbers each."""
    keys = records.swept.numeric
    parts = [best_setting_table(records).html()]
    for key in keys:
        parts.append(
            add_figure(
                response_figure(records, key),
                f"response_{key.replace('.', '_')}",
                f"best valid {records.main_metric} against {key}, one line per group "
                f"({', '.join(records.group_keys) or 'all runs'}), each value at the best setting of the "
                "other swept keys (bands: 95 % CI over seeds; star: the best experiment)",
            )
        )
    if len(keys) >= 2:
        parts.append(
            add_figure(
                heatmap_figure(records, keys[0], keys[1]),
                "response_heatmap",
                f"mean best valid {records.main_metric} over {keys[0]} and {keys[1]} per group "
                "(outlined: the group's best cell)",
            )
        )
    return "".join(parts)
