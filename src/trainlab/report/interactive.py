"""Interactive curves for the HTML page (plotly, its JavaScript embedded once, so the page works offline)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trainlab.analysis.curves import AXES, curve, seed_band
from trainlab.report.figures import style
from trainlab.report.records import StudyRecords


def curves_html(records: StudyRecords, include_js: bool) -> str:
    """Valid and train main metric over the report's axis and over training time; hover for values, click
    the legend to hide an experiment (both panels follow: one legend group per experiment)."""
    metric = records.main_metric
    axes = (records.x, "seconds" if records.x != "seconds" else "flops")
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{metric} over {records.x_label(x)}" for x in axes])
    styles = style(records)
    for number, label, runs in records.experiments():
        colour = _css(styles[number][0])
        for col, x in enumerate(axes, start=1):
            for split, dash in (("valid", "solid"), ("train", "dash")):
                curves = [c for c in (curve(records.metrics, rid, split, metric, AXES[x]) for rid in runs["id"]) if len(c)]
                if not curves:
                    continue
                band = seed_band(curves)
                fig.add_trace(
                    go.Scatter(
                        x=band["x"], y=band["mean"], mode="lines+markers", line={"color": colour, "dash": dash},
                        name=f"{number}: {label}", legendgroup=str(number),
                        showlegend=col == 1 and split == "valid",
                        hovertemplate=f"exp {number} {split}<br>%{{x:.4g}}: %{{y:.4g}}<extra></extra>",
                    ),
                    row=1, col=col,
                )
    fig.update_layout(height=480, margin={"t": 40, "b": 40}, legend={"orientation": "h", "y": -0.2})
    if records.mode == "min" and records.runs["valid_metric"].max() / max(records.runs["valid_metric"].min(), 1e-12) > 10:
        fig.update_yaxes(type="log")
    return fig.to_html(full_html=False, include_plotlyjs=include_js)


def _css(colour: str) -> str:
    """matplotlib's 'C3' -> its hex colour, so both libraries draw an optimizer alike."""
    from matplotlib.colors import to_hex

    return to_hex(colour)
