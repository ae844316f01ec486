"""Figures from records (matplotlib object API: each function returns a Figure, no pyplot state).

Each experiment keeps one colour and marker in every figure of a report (trainlab.report.layout: a
colour-blind-safe palette). Train is dashed, valid solid; several seeds give a mean curve and a 95 % band.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainlab.analysis.curves import AXES, band
from trainlab.analysis.downsample import min_max
from trainlab.analysis.sweep import group_names
from trainlab.report.layout import (
    GREY,
    HIGHLIGHT,
    HIGHLIGHT_COLOURS,
    colour,
    dashes,
    marker,
    marks,
    metric_scale,
    width,
    wrapped_axes,
)
from trainlab.report.records import StudyRecords
from trainlab.report.tables import memory_column, ordered_experiments
from trainlab.spec.metrics import metric_title

SPLIT_STYLES = {"train": "--", "valid": "-"}


def style(records: StudyRecords) -> dict[int, tuple[str, str]]:
    """Experiment number -> (colour, marker): each experiment its own pair, the same in every figure (two
    experiments of one optimizer are told apart as well as two optimizers are)."""
    return {number: (colour(i), marker(i)) for i, (number, _, _) in enumerate(records.experiments())}


def _plot_band(
    ax: Axes,
    curves: list[pd.Series],
    colour: str,
    marker: str,
    line: str,
    label: str | None,
    thin: bool = False,
    order: tuple[int, int] = (0, 1),
) -> np.ndarray | None:
    """The seed band of `curves` with its mean line, the `order[0]`-th of `order[1]` lines drawn in the axes
    (later lines are thinner, their markers offset: coinciding lines both show); `thin` (an experiment outside
    the highlighted best: context, not a line to read): only its mean's points, which `_draw_grey` draws with
    the others."""
    x, mean, low, high, _ = band(
        [c.index.to_numpy(dtype=float) for c in curves], [c.to_numpy(dtype=float) for c in curves]
    )
    kept = drawn(x, mean)
    x, mean, low, high = x[kept], mean[kept], low[kept], high[kept]
    n = len(curves)
    if thin:
        return np.column_stack([x, mean])
    legend = (f"{label} (n={n})" if n > 1 else label) if label else None
    ax.plot(
        x,
        mean,
        line,
        color=colour,
        linewidth=width(*order),
        marker=marker,
        markevery=marks(order[0], len(x)),
        markersize=4,
        label=legend,
        zorder=3,
    )
    if n > 1:
        ax.fill_between(x, low, high, color=colour, alpha=0.12, linewidth=0, zorder=2)
    return None


def _draw_grey(ax: Axes, lines: list[np.ndarray]) -> None:
    """The grey context lines of an axis as one collection: one artist instead of hundreds, which is most of
    the drawing time of a large sweep's figures (rasterised in a PDF, where hundreds of vector lines would
    make a file slow to write and to open)."""
    if lines:
        ax.add_collection(LineCollection(lines, colors=GREY, linewidths=0.7, zorder=1, rasterized=True))
        ax.autoscale_view()


DRAWN_POINTS = 500  # per line in a static figure: about the pixels across one axis, so nothing visible is lost


def drawn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points of a curve that a figure draws: all of a short one; of a long one, at most
    DRAWN_POINTS of its finite points, each bucket's lowest and highest `y` (peaks and drops kept), so 1,000
    runs of 2,000 points draw in seconds. Tables and findings use every point."""
    if len(x) <= DRAWN_POINTS:
        return np.arange(len(x))
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    return finite[min_max(y[finite], DRAWN_POINTS)] if len(finite) > DRAWN_POINTS else finite


def _axis(ax: Axes, records: StudyRecords, x: str) -> None:
    ax.set_xlabel(records.x_label(x))
    ax.grid(alpha=0.3)
    if x in ("epoch", "step") and not records.step_based:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if x == "flops":
        ax.set_xscale("log")


def _joined(values: list[np.ndarray]) -> np.ndarray:
    """The values of every curve of an axes, as one array (for its scale)."""
    return np.concatenate(values) if values else np.empty(0)


def _curves(records: StudyRecords, runs: pd.DataFrame, split: str, name: str, x: str) -> list[pd.Series]:
    found = [records.curve(rid, split, name, AXES[x]) for rid in runs["id"]]
    return [c for c in found if len(c)]


def _mode(records: StudyRecords, name: str) -> str:
    return records.mode if name == records.main_metric else "min"


def _lr_drops(records: StudyRecords, runs: pd.DataFrame, x: str) -> list[float]:
    """x positions (end of the epoch before) where the logged learning rate fell: plateau or step drops."""
    lr = records.curve(runs["id"].iloc[0], "train", "lr", "epoch")
    xs = records.curve(runs["id"].iloc[0], "train", "lr", AXES[x])
    return [float(xs.index[i - 1]) for i in range(1, len(lr)) if lr.iloc[i] < lr.iloc[i - 1] * (1 - 1e-9)]


def highlight(records: StudyRecords, numbers: list[int]) -> dict[int, str | None]:
    """Experiment -> colour: the study's own style for at most HIGHLIGHT experiments; beyond that, the best
    HIGHLIGHT in colour and the rest None (grey)."""
    styles = style(records)
    if len(numbers) <= HIGHLIGHT:
        return {n: styles[n][0] for n in numbers}
    ranked = [n for n in records.ranked_experiments() if n in set(numbers)]
    return {n: (HIGHLIGHT_COLOURS[i] if i < HIGHLIGHT else None) for i, n in enumerate(ranked)}


def positions(colours: dict[int, str | None]) -> dict[int, int]:
    """Each coloured experiment's place among the coloured ones, in drawing order (its line width, marker
    offset and, by rank, its marker)."""
    return {n: i for i, n in enumerate(n for n, c in colours.items() if c is not None)}


def markers(records: StudyRecords, colours: dict[int, str | None]) -> dict[int, str]:
    """Each coloured experiment's marker: its own (`style`) when all are coloured; when only the best are,
    by rank, as their colours are (the eight shown then differ in marker too)."""
    shown = positions(colours)
    if len(shown) == len(colours):
        styles = style(records)
        return {n: styles[n][1] for n in shown}
    return {n: marker(i) for n, i in shown.items()}


def drawing_order(
    experiments: list[tuple[int, str, pd.DataFrame]],
    colours: dict[int, str | None],
) -> list[tuple[int, str, pd.DataFrame]]:
    """Grey experiments first (underneath), then the coloured ones in the order of `colours` (best first
    when highlighting), which is also the order of the legend."""
    position = {n: i for i, n in enumerate(colours)}
    return sorted(experiments, key=lambda e: (colours[e[0]] is not None, position[e[0]]))


def _grey_note(ax: Axes, hidden: int) -> None:
    if hidden:
        ax.plot([], [], color=GREY, label=f"{hidden} other experiments (grey)")


def learning_curves(records: StudyRecords, x: str) -> Figure:
    """Overlay: loss and main metric of every experiment on one axis each (beyond HIGHLIGHT experiments,
    the best in colour and the rest grey, valid only)."""
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    axes = fig.subplots(1, 2)
    experiments = records.experiments()
    colours = highlight(records, [n for n, _, _ in experiments])
    marked = markers(records, colours)
    hidden = sum(c is None for c in colours.values())
    shown = positions(colours)
    for ax, name in zip(axes, ("loss", records.main_metric)):
        values, grey = [], []
        for number, label, runs in drawing_order(experiments, colours):
            drawn_colour = colours[number]
            for split, line in SPLIT_STYLES.items():
                if drawn_colour is None and split == "train":
                    continue
                curves = _curves(records, runs, split, name, x)
                if curves:
                    thin = _plot_band(
                        ax,
                        curves,
                        drawn_colour or GREY,
                        marked.get(number, ""),
                        line,
                        f"{number}: {label}" if split == "valid" else None,
                        thin=drawn_colour is None,
                        order=(shown[number], len(shown)) if drawn_colour else (0, 1),
                    )
                    grey += [] if thin is None else [thin]
                    values += [c.to_numpy(dtype=float) for c in curves]
        _draw_grey(ax, grey)
        ax.set_yscale(metric_scale(_mode(records, name), _joined(values)))
        _axis(ax, records, x)
        ax.set_ylabel(metric_title(name))
        ax.set_title(f"{metric_title(name)} (dashed: train, solid: valid)")
    _grey_note(axes[1], hidden)
    handles, labels = axes[1].get_legend_handles_labels()  # both axes carry the same runs: label once
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    return fig


def architecture_figures(records: StudyRecords, x: str) -> list[tuple[Figure, str]]:
    """One figure per architecture, one panel per group of runs (the values of the categorical swept keys;
    rows of at most four panels). A panel with one experiment shows its train and valid main metric and
    the learning-rate drops; a panel with several (a swept learning rate) shows each one's valid curve.
    Returns (figure, caption suffix) pairs."""
    architectures: dict[str, dict[str, list[tuple[int, str, pd.DataFrame]]]] = {}
    groups = group_names(records.runs, records.group_keys)
    for number, label, runs in ordered_experiments(records):
        panels = architectures.setdefault(records.architecture(runs), {})
        panels.setdefault(groups.loc[runs.index[0]], []).append((number, label, runs))
    styles, metric, out = style(records), records.main_metric, []
    for arch, panels in architectures.items():
        fig, axes = wrapped_axes(len(panels), sharey=True)
        values, titles = [], []
        for letter, ax, (group, members) in zip(_letters(), axes, panels.items()):
            if len(members) == 1:
                title = members[0][1]
                values += _single_panel(ax, records, members[0], styles, x)
            else:
                title = f"{group} ({len(members)} settings)"
                values += _sweep_panel(ax, records, members, x)
            ax.set_title(f"({letter}) {title}", fontsize="medium")
            titles.append(f"({letter}) {title}")
            _axis(ax, records, x)
        axes[0].set_ylabel(records.metric_title)
        axes[0].set_yscale(metric_scale(records.mode, _joined(values)))
        out.append(
            (
                fig,
                f"train (dashed) and valid (solid) {metric} of {arch} over {records.x_label(x)}, {', '.join(titles)}; "
                "dotted lines: learning-rate drops; panels of several settings show valid curves only",
            )
        )
    return out


def _letters():
    """(a), (b), ... then (27), (28): panel names."""
    for i in range(10_000):
        yield string.ascii_lowercase[i] if i < 26 else str(i + 1)


def _single_panel(
    ax: Axes, records: StudyRecords, member: tuple[int, str, pd.DataFrame], styles: dict[int, tuple[str, str]], x: str
) -> list[np.ndarray]:
    number, _, runs = member
    values = []
    for split, line in SPLIT_STYLES.items():
        curves = _curves(records, runs, split, records.main_metric, x)
        if curves:
            _plot_band(ax, curves, *styles[number], line, split)
            values += [c.to_numpy(dtype=float) for c in curves]
    for drop in _lr_drops(records, runs, x):
        ax.axvline(drop, color="grey", linestyle=":", linewidth=1)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, frameon=False)
    return values


def _sweep_panel(
    ax: Axes, records: StudyRecords, members: list[tuple[int, str, pd.DataFrame]], x: str
) -> list[np.ndarray]:
    colours = highlight(records, [n for n, _, _ in members])
    if len(members) <= HIGHLIGHT:
        colours = {n: HIGHLIGHT_COLOURS[i] for i, (n, _, _) in enumerate(members)}
    values, grey = [], []
    shown = positions(colours)
    for number, label, runs in drawing_order(members, colours):
        curves = _curves(records, runs, "valid", records.main_metric, x)
        if curves:
            drawn_colour = colours[number]
            i = shown.get(number, 0)
            look = (marker(i), dashes(i))  # valid curves only: the dash pattern is free to tell settings apart
            thin = _plot_band(
                ax, curves, drawn_colour or GREY, *look, label, thin=drawn_colour is None, order=(i, len(shown))
            )
            grey += [] if thin is None else [thin]
            values += [c.to_numpy(dtype=float) for c in curves]
    _draw_grey(ax, grey)
    _grey_note(ax, sum(c is None for c in colours.values()))
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=1, frameon=False)
    return values


def learning_rates(records: StudyRecords) -> Figure:
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    experiments = records.experiments()
    colours = highlight(records, [n for n, _, _ in experiments])
    shown, marked = positions(colours), markers(records, colours)
    for number, label, runs in drawing_order(experiments, colours):
        series = records.curve(runs["id"].iloc[0], "train", "lr", AXES[records.x])
        lr = series.iloc[drawn(series.index.to_numpy(dtype=float), series.to_numpy(dtype=float))]
        if colours[number] is None:
            ax.plot(lr.index, lr.values, color=GREY, linewidth=0.7)
            continue
        i = shown[number]
        ax.plot(
            lr.index,
            lr.values,
            dashes(i),
            color=colours[number],
            linewidth=width(i, len(shown)),
            marker=marked[number],
            markevery=marks(i, len(lr)),
            markersize=4,
            label=f"{number}: {label}",
        )
    _grey_note(ax, sum(c is None for c in colours.values()))
    ax.set_yscale("log")
    ax.set_xlabel(records.x_label())
    ax.set_ylabel("learning rate (at each evaluation)")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize="x-small")
    return fig


LEGEND_BARS = 16  # experiments whose bars are coloured and named in a legend; beyond, one colour, numbers only


def resource_bars(records: StudyRecords) -> Figure:
    """Mean train seconds per epoch, peak memory and parameters, per experiment: bars in each experiment's
    colour with a legend naming them, or (more than LEGEND_BARS experiments) in one colour, by number."""
    memory = memory_column(records)
    columns = [
        ("train_s_per_epoch", "train s/epoch"),
        (memory, memory.replace("_", " ")),
        ("params_total", "parameters"),
    ]
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    styles = style(records)
    experiments = records.experiments()
    named = len(experiments) <= LEGEND_BARS
    labels = [str(n) for n, _, _ in experiments]
    colours = [styles[n][0] if named else colour(0) for n, _, _ in experiments]
    for ax, (column, title) in zip(axes, columns):
        bars = ax.bar(labels, [runs[column].mean() for _, _, runs in experiments], color=colours)
        ax.set_title(title)
        ax.set_xlabel("experiment")
        ax.grid(alpha=0.3, axis="y")
        ax.xaxis.set_major_locator(MaxNLocator(20, integer=True))  # a label per bar stops being legible
    if named:
        names = [f"{n}: {label}" for n, label, _ in experiments]
        fig.legend(bars, names, loc="outside lower center", ncols=min(4, len(names)), fontsize="small")
    return fig
