"""Figures from records (matplotlib object API: each function returns a Figure, no pyplot state).

Colours follow the optimizer (the same in every figure); experiments sharing an optimizer get
different markers. Train is dashed, valid solid; several seeds give a mean curve and a 95 % band.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainlab.analysis.curves import AXES, curve, seed_band
from trainlab.report.records import StudyRecords
from trainlab.report.tables import memory_column, ordered_experiments

SPLIT_STYLES = {"train": "--", "valid": "-"}
OPTIMIZER_COLOURS = {"sgd": "C0", "momentum": "C1", "nesterov": "C2", "adam": "C3", "adamw": "C4"}
MARKERS = "os^vDP*X"


def style(records: StudyRecords) -> dict[int, tuple[str, str]]:
    """Experiment number -> (colour, marker). When the study varies the optimizer, the colour follows
    it (the same in every figure) and the marker tells apart experiments sharing one; otherwise each
    experiment gets its own colour."""
    experiments = records.experiments()
    optimizers = [str(records.column(runs, "optim.name")) for _, _, runs in experiments]
    if len(set(optimizers)) == 1:
        return {number: (f"C{i % 10}", MARKERS[i % len(MARKERS)]) for i, (number, _, _) in enumerate(experiments)}
    seen: dict[str, int] = {}
    out = {}
    for (number, _, _), name in zip(experiments, optimizers):
        k = seen.get(name, 0)
        seen[name] = k + 1
        out[number] = (OPTIMIZER_COLOURS.get(name, f"C{5 + len(seen) % 5}"), MARKERS[k % len(MARKERS)])
    return out


def _plot_band(ax: Axes, curves: list[pd.Series], colour: str, marker: str, line: str, label: str | None) -> None:
    band = seed_band(curves)
    n = len(curves)
    every = max(1, len(band) // 8)
    legend = (f"{label} (n={n})" if n > 1 else label) if label else None
    ax.plot(band["x"], band["mean"], line, color=colour, marker=marker, markevery=every, markersize=4, label=legend)
    if n > 1:
        ax.fill_between(band["x"], band["low"], band["high"], color=colour, alpha=0.12, linewidth=0)


def _axis(ax: Axes, records: StudyRecords, x: str) -> None:
    ax.set_xlabel(records.x_label(x))
    ax.grid(alpha=0.3)
    if x in ("epoch", "step") and not records.step_based:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if x == "flops":
        ax.set_xscale("log")


def _curves(records: StudyRecords, runs: pd.DataFrame, split: str, name: str, x: str) -> list[pd.Series]:
    found = [curve(records.metrics, rid, split, name, AXES[x]) for rid in runs["id"]]
    return [c for c in found if len(c)]


def _log_if_decades(ax: Axes, values: list[float]) -> None:
    """Log scale where the metric spans more than a decade (perplexity from 40,000 down to 100)."""
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0])
    if len(v) and v.max() / v.min() > 10:
        ax.set_yscale("log")


def _lr_drops(records: StudyRecords, runs: pd.DataFrame, x: str) -> list[float]:
    """x positions (end of the epoch before) where the logged learning rate fell: plateau or step drops."""
    lr = curve(records.metrics, runs["id"].iloc[0], "train", "lr", "epoch")
    xs = curve(records.metrics, runs["id"].iloc[0], "train", "lr", AXES[x])
    return [float(xs.index[i - 1]) for i in range(1, len(lr)) if lr.iloc[i] < lr.iloc[i - 1] * (1 - 1e-9)]


def learning_curves(records: StudyRecords, x: str) -> Figure:
    """Overlay: loss and main metric of every experiment on one axis each."""
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    axes = fig.subplots(1, 2)
    styles = style(records)
    for ax, name in zip(axes, ("loss", records.main_metric)):
        values = []
        for number, label, runs in records.experiments():
            colour, marker = styles[number]
            for split, line in SPLIT_STYLES.items():
                curves = _curves(records, runs, split, name, x)
                if curves:
                    _plot_band(ax, curves, colour, marker, line, f"{number}: {label}" if split == "valid" else None)
                    values += [v for c in curves for v in c]
        _log_if_decades(ax, values)
        _axis(ax, records, x)
        ax.set_ylabel(name)
        ax.set_title(f"{name} (dashed: train, solid: valid)")
    handles, labels = axes[1].get_legend_handles_labels()  # both axes carry the same runs: label once
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    return fig


def architecture_figures(records: StudyRecords, x: str) -> list[tuple[Figure, str]]:
    """One figure per architecture, one subplot per optimizer: train and valid main metric, with the
    learning-rate drops marked as dotted vertical lines. Returns (figure, caption suffix) pairs."""
    groups: dict[str, list[tuple[int, pd.DataFrame]]] = {}
    for number, _, runs in ordered_experiments(records):
        groups.setdefault(records.architecture(runs), []).append((number, runs))
    styles, metric, out = style(records), records.main_metric, []
    for arch, members in groups.items():
        fig = Figure(figsize=(3.6 * len(members) + 0.6, 3.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(members), sharey=True, squeeze=False)[0])
        values = []
        for letter, ax, (number, runs) in zip(string.ascii_lowercase, axes, members):
            colour, marker = styles[number]
            for split, line in SPLIT_STYLES.items():
                curves = _curves(records, runs, split, metric, x)
                if curves:
                    _plot_band(ax, curves, colour, marker, line, split)
                    values += [v for c in curves for v in c]
            for drop in _lr_drops(records, runs, x):
                ax.axvline(drop, color="grey", linestyle=":", linewidth=1)
            ax.set_title(f"({letter}) {records.optimizer(runs)}", fontsize="medium")
            _axis(ax, records, x)
        axes[0].set_ylabel(metric)
        axes[0].legend(fontsize="small")
        _log_if_decades(axes[0], values)
        parts = ", ".join(f"({letter}) {records.optimizer(runs)}" for letter, (_, runs) in zip(string.ascii_lowercase, members))
        out.append((fig, f"train (dashed) and valid (solid) {metric} of {arch} over {records.x_label(x)}, {parts}; "
                         "dotted lines: learning-rate drops"))
    return out


def learning_rates(records: StudyRecords) -> Figure:
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    styles = style(records)
    for number, label, runs in records.experiments():
        lr = curve(records.metrics, runs["id"].iloc[0], "train", "lr", AXES[records.x])
        colour, marker = styles[number]
        ax.plot(lr.index, lr.values, color=colour, marker=marker, markersize=4, label=f"{number}: {label}")
    ax.set_yscale("log")
    ax.set_xlabel(records.x_label())
    ax.set_ylabel("learning rate (at each evaluation)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    return fig


def resource_bars(records: StudyRecords) -> Figure:
    """Mean train seconds per epoch, peak memory and parameters, per experiment."""
    memory = memory_column(records)
    columns = [("train_s_per_epoch", "train s/epoch"), (memory, memory.replace("_", " ")), ("params_total", "parameters")]
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    styles = style(records)
    experiments = records.experiments()
    labels = [str(n) for n, _, _ in experiments]
    for ax, (column, title) in zip(axes, columns):
        ax.bar(labels, [runs[column].mean() for _, _, runs in experiments],
               color=[styles[n][0] for n, _, _ in experiments])
        ax.set_title(title)
        ax.set_xlabel("experiment")
        ax.grid(alpha=0.3, axis="y")
    return fig
