"""Interactive curves for the HTML page (plotly, its JavaScript embedded once, so the page works offline).

The same rules as the static figures (trainlab.report.layout): beyond HIGHLIGHT experiments the best are
in colour and the rest grey (valid only, one legend entry that shows or hides them all), the y scale
follows the metric; curves longer than POINTS are downsampled for drawing (LTTB), never for tables.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trainlab.analysis.curves import AXES, seed_band
from trainlab.analysis.downsample import lttb
from trainlab.report.figures import drawing_order, highlight
from trainlab.report.layout import GREY, metric_scale
from trainlab.report.records import StudyRecords

POINTS = 300  # per trace: more than a plot a few hundred pixels wide can show


def curves_html(records: StudyRecords, include_js: bool) -> str:
    """Valid and train main metric over the report's axis and over training time; hover for values, click
    the legend to hide an experiment (both panels follow: one legend group per experiment)."""
    metric = records.main_metric
    axes = (records.x, "seconds" if records.x != "seconds" else "flops")
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{metric} over {records.x_label(x)}" for x in axes])
    experiments = records.experiments()
    colours = highlight(records, [n for n, _, _ in experiments])
    first_grey = True
    values: list[float] = []
    for number, label, runs in drawing_order(experiments, colours):
        colour = colours[number]
        for col, x in enumerate(axes, start=1):
            for split, dash in (("valid", "solid"), ("train", "dash")):
                if colour is None and split == "train":
                    continue
                curves = [c for c in (records.curve(rid, split, metric, AXES[x]) for rid in runs["id"]) if len(c)]
                if not curves:
                    continue
                band = seed_band(curves)
                keep = lttb(band["x"].to_numpy(), band["mean"].to_numpy(), POINTS)
                values += list(band["mean"])
                legend = col == 1 and split == "valid" and (colour is not None or first_grey)
                fig.add_trace(
                    go.Scatter(
                        x=band["x"].to_numpy()[keep],
                        y=band["mean"].to_numpy()[keep],
                        mode="lines" if colour is None else "lines+markers",
                        line={
                            "color": _css(colour) if colour else GREY,
                            "dash": dash,
                            "width": 1 if colour is None else 2,
                        },
                        name=f"{number}: {label}" if colour else "other experiments (grey)",
                        legendgroup=str(number) if colour else "others",
                        showlegend=legend,
                        hovertemplate=f"exp {number} {split}: {label}<br>%{{x:.4g}}: %{{y:.4g}}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
                first_grey = first_grey and not (legend and colour is None)
    fig.update_layout(height=520, margin={"t": 40, "b": 40}, legend={"orientation": "h", "y": -0.2})
    fig.update_yaxes(type=metric_scale(records.mode, values))
    return fig.to_html(full_html=False, include_plotlyjs=include_js)


def _css(colour: str) -> str:
    """matplotlib's 'C3' -> its hex colour, so both libraries draw an optimizer alike."""
    from matplotlib.colors import to_hex

    return to_hex(colour)
