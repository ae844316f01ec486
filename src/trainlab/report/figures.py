"""Figures from records (matplotlib object API: each function returns a Figure, no pyplot state)."""

from __future__ import annotations

from matplotlib.figure import Figure

from trainlab.analysis.curves import curve, seed_band
from trainlab.report.records import StudyRecords

X_LABELS = {"epoch": "epoch", "wall_s": "cumulative training time (s)"}
SPLIT_STYLES = {"train": "--", "valid": "-"}


def colour(experiment: int) -> str:
    """One colour per experiment number, the same in every figure of a report."""
    return f"C{(experiment - 1) % 10}"


def learning_curves(records: StudyRecords, x: str = "epoch") -> Figure:
    """Loss and main metric, train (dashed) and valid (solid), one colour per experiment.

    With several seeds: the mean curve and a shaded 95 % confidence band, n in the legend.
    """
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name in zip(axes, ("loss", records.main_metric)):
        for number, label, runs in records.experiments():
            for split, style in SPLIT_STYLES.items():
                curves = [curve(records.metrics, rid, split, name, x) for rid in runs["id"]]
                curves = [c for c in curves if len(c)]
                if not curves:
                    continue
                band = seed_band(curves)
                n = len(curves)
                legend = f"{number}: {label}" + (f" (n={n})" if n > 1 else "") if split == "valid" else None
                ax.plot(band["x"], band["mean"], style, color=colour(number), label=legend)
                if n > 1:
                    ax.fill_between(band["x"], band["low"], band["high"], color=colour(number), alpha=0.15)
        ax.set_xlabel(X_LABELS[x])
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].set_title("loss (dashed: train, solid: valid)")
    axes[1].set_title(f"{records.main_metric} (dashed: train, solid: valid)")
    handles, labels = axes[1].get_legend_handles_labels()  # both axes carry the same runs: label once
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    return fig
